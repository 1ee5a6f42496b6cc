/** Helpers for libpg-query's JSON parse tree, where each node is `{TypeName: {…fields}}`. */

export type ParseNode = Record<string, unknown>;

export function isNode(value: unknown): value is ParseNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A node's type and body: `{SelectStmt: {…}}` → ['SelectStmt', {…}]; anything else → ['', {}]. */
export function only(node: unknown): [string, ParseNode] {
  const key = isNode(node) ? (Object.keys(node)[0] ?? '') : '';
  const body = isNode(node) ? (node[key] as ParseNode) : {};
  return [key, isNode(body) ? body : {}];
}
