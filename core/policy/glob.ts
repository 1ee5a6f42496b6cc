/** A compiled glob: `*` matches any run of characters (within one name part, for relation globs). */
export type Matcher = (value: string) => boolean;

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** `*` matches anything, including dots and slashes (claims such as `repo:acme/*:ref:*`). */
export function textGlob(pattern: string): Matcher {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) return (value) => value === pattern;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's');
  return (value) => regex.test(value);
}

export function anyOf(matchers: readonly Matcher[]): Matcher {
  return (value) => matchers.some((match) => match(value));
}

/**
 * A relation (or function) glob: `schema.name`, each part a glob where `*` stays within the part;
 * a glob without a dot matches the name in any schema. `*` alone matches everything.
 */
export interface NameGlob {
  readonly schema: Matcher | undefined;
  /** True when the schema part is `*` (or absent): the glob also covers names of unknown schema. */
  readonly anySchema: boolean;
  readonly name: Matcher;
  readonly source: string;
}

export function partGlob(pattern: string): Matcher {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) return (value) => value === pattern;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('[^.]*')}$`);
  return (value) => regex.test(value);
}

export function nameGlob(source: string): NameGlob {
  const dot = source.lastIndexOf('.');
  if (dot === -1) return { schema: undefined, anySchema: true, name: partGlob(source), source };
  const schema = source.slice(0, dot);
  return {
    schema: partGlob(schema),
    anySchema: schema === '*',
    name: partGlob(source.slice(dot + 1)),
    source,
  };
}

/**
 * Whether `glob` covers the name. `schema` undefined means the schema is not known (the client
 * controls the search path): only a glob that covers every schema covers it.
 */
export function nameMatches(glob: NameGlob, schema: string | undefined, name: string): boolean {
  if (!glob.name(name)) return false;
  if (schema === undefined) return glob.anySchema;
  return glob.schema === undefined || glob.schema(schema);
}

/**
 * Whether the name could be one `glob` names: with the schema unknown, any schema is possible. Deny
 * globs and rules use this; allow globs use nameMatches, which must cover every possibility.
 */
export function nameMayMatch(glob: NameGlob, schema: string | undefined, name: string): boolean {
  if (!glob.name(name)) return false;
  return schema === undefined || glob.schema === undefined || glob.schema(schema);
}

/** A column glob, `schema.relation.column`, each part a glob where `*` stays within the part. */
export function columnGlob(source: string): Matcher {
  const parts = source.split('.').map(partGlob);
  return (key) => {
    const names = key.split('.');
    return names.length === parts.length && parts.every((match, i) => match(names[i]!));
  };
}
