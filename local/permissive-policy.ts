/**
 * A policy under which every identity of one issuer may do everything, and SQL the gateway's parser
 * cannot read is forwarded for the server to judge. For compatibility runs (the server's own regression
 * suite through the gateway) and tests of the data path; never a deployment default.
 */
export function permissivePolicy(issuer = 'local'): string {
  return `version: 1
unknownStatements: allow
unparseableStatements: forward
identities:
  anyone: { issuer: ${JSON.stringify(issuer)} }
grants:
  - name: everything
    to: [anyone]
    searchPath: any
    allow: [read, write, ddl, admin, session, transaction, unknown]
    relations: { read: ["*"], write: ["*"] }
    functions: ["*"]
`;
}
