/**
 * What column lineage needs to know of the database: relations with their columns (and the defining
 * query of views), and functions. Looked up by the gateway (fargate-proxy/src/masking) and handed to the
 * pure tracing code as a snapshot; `undefined` means "not looked up yet", `null` "does not exist".
 */

/** A stored column, as masking rules name it: `schema.relation.column`. */
export type ColumnKey = string;

export function columnKey(schema: string, relation: string, column: string): ColumnKey {
  return `${schema}.${relation}.${column}`;
}

export interface CatalogueColumn {
  readonly name: string;
  readonly attnum: number;
  /** Type OID (pg_attribute.atttypid). */
  readonly type: number;
}

export interface CatalogueRelation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** Views and materialised views are traced through their defining query. */
  readonly kind: 'table' | 'view' | 'materialized-view';
  /** Visible columns in attnum order (dropped and system columns left out). */
  readonly columns: readonly CatalogueColumn[];
  /** Views and materialised views: the defining query (pg_get_viewdef). */
  readonly definition?: string;
}

export interface CatalogueFunction {
  /** Every overload visible under this name is built in (pg_catalog, from the server's own source). */
  readonly builtin: boolean;
  /** Some overload is volatile: it may have side effects (set_config, pg_notify…). */
  readonly volatile: boolean;
  /**
   * Used in FROM: the columns it returns, when every overload agrees; undefined when they do not or
   * it returns `record` without a column definition list.
   */
  readonly outputColumns?: readonly string[];
}

export interface Catalogue {
  /** `schema` undefined: resolved through the session's search path, as the server would. */
  relation(schema: string | undefined, name: string): CatalogueRelation | null | undefined;
  function(schema: string | undefined, name: string): CatalogueFunction | null | undefined;
}

/** Names tracing asked for that the snapshot did not hold: look them up and trace again. */
export interface CatalogueMisses {
  readonly relations: ReadonlyArray<{ readonly schema: string | undefined; readonly name: string }>;
  readonly functions: ReadonlyArray<{ readonly schema: string | undefined; readonly name: string }>;
}
