import { CATALOG_OPERATORS, CATALOG_RELATIONS, NON_VOLATILE_CATALOG_FUNCTIONS } from './builtins.generated';

/**
 * Built-in functions that cannot change the database or read data they are not handed. The server
 * refuses writes inside immutable and stable functions, so those are the base; from it are removed the
 * ones that run a query or read a relation named by a string (their reads would escape the analysis),
 * and to it are added volatile functions that only read clocks, randomness or statistics.
 */
const READS_BY_NAME = [
  'database_to_xml',
  'database_to_xml_and_xmlschema',
  'database_to_xmlschema',
  'schema_to_xml',
  'schema_to_xml_and_xmlschema',
  'schema_to_xmlschema',
  'table_to_xml',
  'table_to_xml_and_xmlschema',
  'table_to_xmlschema',
  'ts_rewrite',
  'ts_stat',
];

const HARMLESS_VOLATILE = [
  'clock_timestamp',
  'currval',
  'gen_random_uuid',
  'lastval',
  'pg_blocking_pids',
  'pg_current_wal_lsn',
  'pg_database_size',
  'pg_indexes_size',
  'pg_is_in_recovery',
  'pg_relation_size',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'pg_table_size',
  'pg_tablespace_size',
  'pg_total_relation_size',
  'random',
  'random_normal',
  'timeofday',
];

export const READ_ONLY_BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set(
  [...NON_VOLATILE_CATALOG_FUNCTIONS.split(' '), ...HARMLESS_VOLATILE].filter(
    (name) => !READS_BY_NAME.includes(name),
  ),
);

/** Built-in functions that write (sequences, notifications): a statement calling them is a write. */
export const WRITING_BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set(['nextval', 'setval', 'pg_notify']);

export const BUILTIN_OPERATORS: ReadonlySet<string> = new Set(CATALOG_OPERATORS.split(' '));

/** Relations of pg_catalog, which the server searches before the search path. */
export const CATALOG_RELATION_NAMES: ReadonlySet<string> = new Set(CATALOG_RELATIONS.split(' '));
