import type { StatementClass } from './analysis';

/**
 * The class of each top-level statement node of PostgreSQL's grammar. A node missing here is
 * `unknown`, which the policy refuses by default: new syntax fails closed.
 */
const CLASS_OF_NODE: Readonly<Record<string, StatementClass>> = {
  SelectStmt: 'read',
  VariableShowStmt: 'read',
  FetchStmt: 'read',
  ClosePortalStmt: 'read',
  ExplainStmt: 'read',
  CopyStmt: 'read',
  DeclareCursorStmt: 'read',
  // EXECUTE is decided by the statement prepared under its name; this is the class of the call itself.
  ExecuteStmt: 'read',

  InsertStmt: 'write',
  UpdateStmt: 'write',
  DeleteStmt: 'write',
  MergeStmt: 'write',
  TruncateStmt: 'write',
  LockStmt: 'write',
  NotifyStmt: 'write',

  TransactionStmt: 'transaction',
  ConstraintsSetStmt: 'transaction',

  VariableSetStmt: 'session',
  DiscardStmt: 'session',
  ListenStmt: 'session',
  UnlistenStmt: 'session',
  PrepareStmt: 'session',
  DeallocateStmt: 'session',

  // Anything that defines, changes or removes schema objects.
  CreateStmt: 'ddl',
  CreateTableAsStmt: 'ddl',
  AlterTableStmt: 'ddl',
  AlterTableMoveAllStmt: 'ddl',
  DropStmt: 'ddl',
  RenameStmt: 'ddl',
  IndexStmt: 'ddl',
  ViewStmt: 'ddl',
  CommentStmt: 'ddl',
  SecLabelStmt: 'ddl',
  CreateSchemaStmt: 'ddl',
  CreateSeqStmt: 'ddl',
  AlterSeqStmt: 'ddl',
  CreateFunctionStmt: 'ddl',
  AlterFunctionStmt: 'ddl',
  CreateTrigStmt: 'ddl',
  RuleStmt: 'ddl',
  CreatePolicyStmt: 'ddl',
  AlterPolicyStmt: 'ddl',
  DefineStmt: 'ddl',
  CompositeTypeStmt: 'ddl',
  CreateEnumStmt: 'ddl',
  AlterEnumStmt: 'ddl',
  CreateRangeStmt: 'ddl',
  CreateDomainStmt: 'ddl',
  AlterDomainStmt: 'ddl',
  AlterTypeStmt: 'ddl',
  AlterObjectSchemaStmt: 'ddl',
  AlterOwnerStmt: 'ddl',
  AlterObjectDependsStmt: 'ddl',
  AlterOperatorStmt: 'ddl',
  CreateStatsStmt: 'ddl',
  AlterStatsStmt: 'ddl',
  CreateCastStmt: 'ddl',
  CreateConversionStmt: 'ddl',
  CreateOpClassStmt: 'ddl',
  CreateOpFamilyStmt: 'ddl',
  AlterOpFamilyStmt: 'ddl',
  CreateTransformStmt: 'ddl',
  CreateExtensionStmt: 'ddl',
  AlterExtensionStmt: 'ddl',
  AlterExtensionContentsStmt: 'ddl',
  CreateFdwStmt: 'ddl',
  AlterFdwStmt: 'ddl',
  CreateForeignServerStmt: 'ddl',
  AlterForeignServerStmt: 'ddl',
  CreateForeignTableStmt: 'ddl',
  ImportForeignSchemaStmt: 'ddl',
  CreateAmStmt: 'ddl',
  AlterCollationStmt: 'ddl',
  AlterTSDictionaryStmt: 'ddl',
  AlterTSConfigurationStmt: 'ddl',
  CreatePLangStmt: 'ddl',
  RefreshMatViewStmt: 'ddl',

  // Privileges, roles, server-wide state and maintenance.
  GrantStmt: 'admin',
  GrantRoleStmt: 'admin',
  AlterDefaultPrivilegesStmt: 'admin',
  CreateRoleStmt: 'admin',
  AlterRoleStmt: 'admin',
  AlterRoleSetStmt: 'admin',
  DropRoleStmt: 'admin',
  ReassignOwnedStmt: 'admin',
  DropOwnedStmt: 'admin',
  CreateUserMappingStmt: 'admin',
  AlterUserMappingStmt: 'admin',
  DropUserMappingStmt: 'admin',
  AlterSystemStmt: 'admin',
  CreatedbStmt: 'admin',
  AlterDatabaseStmt: 'admin',
  AlterDatabaseSetStmt: 'admin',
  AlterDatabaseRefreshCollStmt: 'admin',
  DropdbStmt: 'admin',
  CreateTableSpaceStmt: 'admin',
  DropTableSpaceStmt: 'admin',
  AlterTableSpaceOptionsStmt: 'admin',
  VacuumStmt: 'admin',
  ClusterStmt: 'admin',
  ReindexStmt: 'admin',
  CheckPointStmt: 'admin',
  LoadStmt: 'admin',
  CreateEventTrigStmt: 'admin',
  AlterEventTrigStmt: 'admin',
  CreatePublicationStmt: 'admin',
  AlterPublicationStmt: 'admin',
  CreateSubscriptionStmt: 'admin',
  AlterSubscriptionStmt: 'admin',
  DropSubscriptionStmt: 'admin',
};

export function classOfNode(node: string): StatementClass {
  return CLASS_OF_NODE[node] ?? 'unknown';
}

/** Command names where the node's name does not read as the command (`CreateStmt` is CREATE TABLE). */
const COMMAND_OF_NODE: Readonly<Record<string, string>> = {
  SelectStmt: 'SELECT',
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  CreateStmt: 'CREATE TABLE',
  CreateTableAsStmt: 'CREATE TABLE AS',
  IndexStmt: 'CREATE INDEX',
  ViewStmt: 'CREATE VIEW',
  DefineStmt: 'CREATE',
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  ClosePortalStmt: 'CLOSE',
  DeclareCursorStmt: 'DECLARE CURSOR',
  RuleStmt: 'CREATE RULE',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  VacuumStmt: 'VACUUM',
  ExplainStmt: 'EXPLAIN',
  CopyStmt: 'COPY',
  DoStmt: 'DO',
  CallStmt: 'CALL',
};

/** `AlterTableStmt` → `ALTER TABLE`. */
export function commandOfNode(node: string): string {
  const known = COMMAND_OF_NODE[node];
  if (known) return known;
  return node
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}

/** DROP object types whose names are relations (the rest name schemas, functions, types…). */
export const DROPPED_RELATION_TYPES: ReadonlySet<string> = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
  'OBJECT_FOREIGN_TABLE',
]);

/**
 * Fields that hold the relation a statement changes, by node type. A relation found anywhere else is
 * read. (In the parse tree these are bare RangeVar bodies, or lists of wrapped ones.)
 */
export const WRITE_TARGET_FIELDS: Readonly<Record<string, readonly string[]>> = {
  InsertStmt: ['relation'],
  UpdateStmt: ['relation'],
  DeleteStmt: ['relation'],
  MergeStmt: ['relation'],
  TruncateStmt: ['relations'],
  LockStmt: ['relations'],
  IntoClause: ['rel'],
  CreateStmt: ['relation'],
  AlterTableStmt: ['relation'],
  IndexStmt: ['relation'],
  ViewStmt: ['view'],
  CreateTrigStmt: ['relation'],
  RuleStmt: ['relation'],
  RenameStmt: ['relation'],
  AlterObjectSchemaStmt: ['relation'],
  AlterOwnerStmt: ['relation'],
  RefreshMatViewStmt: ['relation'],
  CreatePolicyStmt: ['table'],
  AlterPolicyStmt: ['table'],
  CreateSeqStmt: ['sequence'],
  AlterSeqStmt: ['sequence'],
  VacuumRelation: ['relation'],
  ClusterStmt: ['relation'],
  ReindexStmt: ['relation'],
  GrantStmt: ['objects'],
  CreateStatsStmt: ['relations'],
  CommentStmt: [],
};
