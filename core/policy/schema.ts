import { z } from 'zod';
import { STATEMENT_CLASSES } from '../sql/analysis';

/**
 * The policy file's schema (YAML, version 1). Every object is strict: an unknown key is an error at
 * load, never silently ignored. README.md ("Policy language") documents each field with examples.
 */

const name = z.string().regex(/^[A-Za-z0-9_.:@-]+$/, 'names use letters, digits and _ . : @ -');

/** A claim's required value: one glob (`*` matches anything), or a list of which any may match. */
const claimValue = z.union([
  z.string().min(1),
  z.number(),
  z.boolean(),
  z.array(z.union([z.string().min(1), z.number(), z.boolean()])).min(1),
]);

const identity = z
  .object({
    /** The token's `iss`, or the name the gateway configuration gives the issuer. */
    issuer: z.string().min(1),
    /** Every listed claim must match; a token claim that is a list matches when any element does. */
    claims: z.record(z.string().min(1), claimValue).default({}),
  })
  .strict();

const decision = z.enum(['deny', 'approve']);

/** Who is asked, how many must agree, how long the statement may wait, and what an approval covers. */
const approval = z
  .object({
    /** Approver names or approver groups (the policy's `approvers` and `approverGroups`). */
    approvers: z.array(name).min(1),
    /** Distinct approvers who must approve; one denial is enough to refuse. */
    needed: z.number().int().min(1).default(1),
    /** The request times out after this long without a decision. */
    timeoutSeconds: z.number().int().min(1).max(86_400).default(900),
    /**
     * true: the statement waits on the wire for the decision (the client gets notices meanwhile);
     * false (non-interactive): it is refused at once with the request id, and runs when retried after
     * approval.
     */
    wait: z.boolean().default(true),
    /**
     * once: this exact statement, one time; `{ minutes }`: the same exact statement for a while;
     * `{ elevate, minutes }`: a time-boxed elevation: for that long, the identity's statements on this
     * database are decided by the grant named in `elevate` (the statement that asked included).
     */
    covers: z
      .union([
        z.literal('once'),
        z.object({ minutes: z.number().int().min(1).max(1440) }).strict(),
        z.object({ elevate: name, minutes: z.number().int().min(1).max(1440) }).strict(),
      ])
      .default('once'),
  })
  .strict();

/** A person who may approve, and where they are reached. */
const approver = z
  .object({
    email: z.string().email().optional(),
    /** Slack member id (U…). */
    slack: z
      .string()
      .regex(/^[UW][A-Z0-9]+$/, 'a Slack member id (U…)')
      .optional(),
    /**
     * Token identities that are this person (e.g. GitHub `actor`): they may not approve what a job
     * run for them asks.
     */
    identities: z.array(identity).default([]),
  })
  .strict();

const rule = z
  .object({
    name,
    decision,
    /** Shown to the client with the refusal. */
    reason: z.string().optional(),
    /** For `decision: approve`: the approval workflow (without it, approval is refused as unavailable). */
    approval: approval.optional(),
    /** Every condition given must hold; a rule with no condition matches every statement. */
    when: z
      .object({
        commands: z.array(z.string().min(1)).min(1).optional(),
        classes: z.array(z.enum(STATEMENT_CLASSES)).min(1).optional(),
        /** Relation globs (`schema.table`) the statement reads or writes. */
        relations: z.array(z.string().min(1)).min(1).optional(),
        /** Relation globs the statement writes. */
        writes: z.array(z.string().min(1)).min(1).optional(),
        functions: z.array(z.string().min(1)).min(1).optional(),
        /** UPDATE or DELETE without WHERE. */
        unbounded: z.boolean().optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

/** A masking rule: which stored columns, and how their values (and values derived from them) are masked. */
const maskRule = z
  .object({
    name,
    /** `schema.relation.column` globs (`*` within one part); views' columns can be named too. */
    columns: z
      .array(z.string().regex(/^[^.]+\.[^.]+\.[^.]+$/, 'expected schema.relation.column'))
      .default([]),
    /** Data classes (the policy's `dataClasses`) whose columns this rule masks. */
    dataClasses: z.array(name).default([]),
    /**
     * redact: a placeholder valid for the type; partial: keep `keep.first`/`keep.last` characters;
     * token: a keyed HMAC (equal values give equal tokens, so joins and GROUP BY on the client still
     * work); null: SQL NULL.
     */
    method: z.enum(['redact', 'partial', 'token', 'null']),
    keep: z
      .object({ first: z.number().int().min(0).default(0), last: z.number().int().min(0).default(0) })
      .strict()
      .optional(),
    /**
     * Filtering, ordering, grouping or joining on the column can reveal its values without returning
     * them. refuse (the default): such statements are refused; token-equality (token rules): only
     * `col = 'tok_…'` with a token this gateway returned, which it turns back into the value; equality:
     * `col = constant` with any constant (a client can test guesses); allow: anything.
     */
    predicates: z.enum(['refuse', 'token-equality', 'equality', 'allow']).default('refuse'),
  })
  .strict()
  .refine((rule) => rule.columns.length + rule.dataClasses.length > 0, {
    message: 'a masking rule needs columns or dataClasses',
  })
  .refine((rule) => rule.method === 'partial' || rule.keep === undefined, {
    message: 'keep applies to the partial method only',
  })
  .refine((rule) => rule.method === 'token' || rule.predicates !== 'token-equality', {
    message: 'token-equality applies to the token method only',
  });

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24-hour)');

const limits = z
  .object({
    /** Sessions are ended (57P01) after this long. */
    maxSessionSeconds: z.number().int().positive().optional(),
    /** Outside these hours new sessions are refused and statements refused. */
    allowedHours: z
      .object({
        days: z
          .array(z.enum(DAYS))
          .min(1)
          .default([...DAYS]),
        from: clock,
        to: clock,
        /** An IANA time zone name. */
        timezone: z.string().default('UTC'),
      })
      .strict()
      .optional(),
    /** Rows a statement may return (result rows, FETCH, COPY TO); beyond it the statement is ended. */
    maxRows: z.number().int().positive().optional(),
    /** Pushed to the server as the session's statement_timeout; the client cannot change it. */
    statementTimeoutMs: z.number().int().positive().optional(),
    /** Concurrent sessions of one identity (one subject of one issuer) under this grant. */
    maxConnections: z.number().int().positive().optional(),
    /** Statements per second of one identity under this grant, over all its sessions on one gateway. */
    statementsPerSecond: z.number().positive().optional(),
  })
  .strict()
  .default({});

const grant = z
  .object({
    name,
    /** Identities and groups this grant applies to. */
    to: z.array(name).min(1),
    /** Database globs; the default is every database. */
    databases: z.array(z.string().min(1)).min(1).default(['*']),
    /**
     * Upstream role the session runs as (pushed as the session's `role`; RESET and DISCARD return to
     * it, SET ROLE is refused). The default is the gateway's own upstream login role.
     */
    role: z.string().min(1).optional(),
    /** The server runs every transaction read-only, and the client cannot switch that off. */
    readOnly: z.boolean().default(false),
    /**
     * Schemas unqualified names resolve in, pushed to the server and pinned; `any` leaves the search
     * path to the client (then unqualified names only match relation globs whose schema is `*`).
     */
    searchPath: z.union([z.array(z.string().min(1)).min(1), z.literal('any')]).default(['public']),
    allow: z.array(z.enum(STATEMENT_CLASSES)).default(['read']),
    relations: z
      .object({
        read: z.array(z.string().min(1)).default([]),
        write: z.array(z.string().min(1)).default([]),
        /** Never read or written, whatever the globs above say. */
        deny: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
    /** Function globs allowed besides the built-in read-only functions (`*` allows every function). */
    functions: z.array(z.string().min(1)).default([]),
    rules: z.array(rule).default([]),
    limits,
    /**
     * What the audit trail keeps of this grant's sessions (AU-2, AU-12: the organisation selects the
     * audited events). Session start and end, refused statements and statements the analysis could
     * not classify are always recorded, whatever this says.
     */
    /**
     * Columns masked in every result this grant's sessions receive, by their lineage (views,
     * expressions, subqueries…); see README "Masking".
     */
    masking: z
      .object({
        rules: z.array(maskRule).min(1),
        /**
         * A returned column whose origin cannot be traced (a function that is not built in, dynamic
         * SQL): refuse the statement (the default), redact the column whatever it holds, or run value
         * detectors over it (SSN, payment card, e-mail, phone, AWS access key, JWT, private key) and
         * redact what they recognise.
         */
        untraceable: z.enum(['refuse', 'redact', 'detect']).default('refuse'),
      })
      .strict()
      .optional(),
    audit: z
      .object({
        /** Statement classes that get a statement record; the default is every class. */
        statements: z.array(z.enum(STATEMENT_CLASSES)).default([...STATEMENT_CLASSES]),
        /** Whether sessions are recorded (when the gateway's configuration enables recordings). */
        record: z.boolean().default(true),
        /**
         * Statement classes audited in `strict` mode: not forwarded until a record of them is held by
         * the shared store (DynamoDB in AWS); refused when it cannot be. The rest are `buffered`.
         */
        strict: z.array(z.enum(STATEMENT_CLASSES)).default(['write', 'ddl', 'admin']),
      })
      .strict()
      .default({}),
  })
  .strict();

const policyTest = z
  .object({
    name: z.string().optional(),
    identity,
    database: z.string().min(1),
    sql: z.string().min(1),
    expect: z.enum(['allow', 'deny', 'approve', 'no-grant']),
  })
  .strict();

export const policySchema = z
  .object({
    version: z.literal(1),
    /** Statements the analysis cannot judge (DO, CALL, unknown syntax, EXECUTE of an unknown name). */
    unknownStatements: z.enum(['deny', 'allow']).default('deny'),
    /** SQL the parser rejects: refused with the parser's message, or forwarded for the server to reject. */
    unparseableStatements: z.enum(['deny', 'forward']).default('deny'),
    identities: z.record(name, identity).default({}),
    groups: z.record(name, z.array(name).min(1)).default({}),
    /** People who may approve statements held by `decision: approve` rules. */
    approvers: z.record(name, approver).default({}),
    approverGroups: z.record(name, z.array(name).min(1)).default({}),
    /** Named sets of columns (`schema.relation.column` globs) that masking rules refer to. */
    dataClasses: z.record(name, z.array(z.string().min(1)).min(1)).default({}),
    grants: z.array(grant).default([]),
    databases: z
      .record(
        z.string().min(1),
        z
          .object({
            /** Upstream sessions open at once to this database, over all identities, per gateway process. */
            maxUpstreamConnections: z.number().int().positive().optional(),
          })
          .strict(),
      )
      .default({}),
    tests: z.array(policyTest).default([]),
  })
  .strict();

export type PolicyDocument = z.output<typeof policySchema>;
export type GrantDocument = PolicyDocument['grants'][number];
export type RuleDocument = GrantDocument['rules'][number];
export type MaskingDocument = NonNullable<GrantDocument['masking']>;
export type IdentityDocument = PolicyDocument['identities'][string];
export type PolicyTestDocument = PolicyDocument['tests'][number];
export type Weekday = (typeof DAYS)[number];
export const WEEKDAYS = DAYS;
