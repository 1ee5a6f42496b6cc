/**
 * A realistic evidence package's contents (summary, scopes, inventory) for the tests of what is built
 * from them, and the NIST OSCAL schemas the OSCAL documents are validated against.
 *
 * The week of 2026-11-01: a GitHub Actions release pipeline that migrates `orders` under approval, an
 * EKS reporting service reading with masked columns, a GitLab job seen early in the week whose rule was
 * then narrowed (seen, no longer admitted), and a Cognito batch client whose rule admitted nobody. The
 * store's verification found a broken chain, so AU-9 (and AU-10) are not satisfied.
 */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type {
  ControlId,
  ControlStatus,
  EffectiveScope,
  EvidenceSummary,
  IdentityActivity,
  IdentityRuleUsage,
} from '../../../core/evidence/evidence-package';
import type { OscalInput } from '../../../core/evidence/oscal-common';

const DAY_MICROS = 86_400_000_000;
const FROM_MICROS = Date.parse('2026-11-01T00:00:00Z') * 1000;
const TO_MICROS = Date.parse('2026-11-08T00:00:00Z') * 1000;

const GITHUB = 'https://token.actions.githubusercontent.com';
const EKS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/5C1E8F0A2B3D4E5F60718293A4B5C6D7';
const GITLAB = 'https://gitlab.com';
const COGNITO = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E';

export const identityRules: readonly IdentityRuleUsage[] = [
  {
    name: 'release-pipeline',
    issuer: GITHUB,
    claims: {
      repository_id: ['892744511'],
      ref: ['refs/heads/main', 'refs/tags/v*'],
      environment: ['production'],
    },
    grants: ['release-migrations'],
    identitiesSeen: 1,
    unused: false,
  },
  {
    name: 'reporting-service',
    issuer: EKS,
    claims: { sub: ['system:serviceaccount:reporting:reporter'] },
    grants: ['reporting-read'],
    identitiesSeen: 1,
    unused: false,
  },
  {
    name: 'gitlab-exports',
    issuer: GITLAB,
    claims: { project_id: ['4471'], ref_protected: ['true'] },
    grants: ['reporting-read'],
    identitiesSeen: 1,
    unused: false,
  },
  {
    name: 'nightly-batch',
    issuer: COGNITO,
    claims: { client_id: ['7f3k2m9q1r5t8v0w4x6y'] },
    grants: ['batch-etl'],
    identitiesSeen: 0,
    unused: true,
  },
];

export const identities: readonly IdentityActivity[] = [
  {
    issuer: GITHUB,
    subject: 'repo:acme@1200341/orders@892744511:environment:production',
    identityRules: ['release-pipeline'],
    grants: ['release-migrations'],
    firstSeen: FROM_MICROS + 9 * 3_600_000_000,
    lastSeen: TO_MICROS - 2 * DAY_MICROS,
    sessions: 14,
    statements: 312,
    refusals: 2,
    approvalsRequested: 3,
    maskedStatements: 0,
    authenticationFailures: 1,
    admittedNow: true,
  },
  {
    issuer: EKS,
    subject: 'system:serviceaccount:reporting:reporter',
    identityRules: ['reporting-service'],
    grants: ['reporting-read'],
    firstSeen: FROM_MICROS + 60_000_000,
    lastSeen: TO_MICROS - 60_000_000,
    sessions: 2016,
    statements: 40_310,
    refusals: 0,
    approvalsRequested: 0,
    maskedStatements: 8_062,
    authenticationFailures: 0,
    admittedNow: true,
  },
  {
    issuer: GITLAB,
    subject: 'project_path:acme/exports:ref_type:branch:ref:main',
    identityRules: ['gitlab-exports'],
    grants: ['reporting-read'],
    firstSeen: FROM_MICROS + DAY_MICROS,
    lastSeen: FROM_MICROS + 2 * DAY_MICROS,
    sessions: 3,
    statements: 41,
    refusals: 1,
    approvalsRequested: 0,
    maskedStatements: 12,
    authenticationFailures: 4,
    admittedNow: false,
  },
];

export const scopes: readonly EffectiveScope[] = [
  {
    grant: 'release-migrations',
    identityRules: ['release-pipeline'],
    databases: ['orders'],
    role: 'orders_migrator',
    readOnly: false,
    allow: ['read', 'write', 'ddl', 'session', 'transaction'],
    reads: ['public.*', 'pg_catalog.*'],
    writes: ['public.*'],
    denied: ['public.payment_tokens'],
    functions: ['public.recalculate_*'],
    rules: [
      {
        name: 'destructive-ddl',
        decision: 'approve',
        approval: {
          approvers: ['dba', 'alice@acme.example'],
          needed: 1,
          timeoutSeconds: 900,
          covers: 'statement',
        },
      },
      { name: 'unbounded-changes', decision: 'deny', reason: 'UPDATE and DELETE need a WHERE clause' },
    ],
    maskedColumns: [],
    limits: { statementTimeoutMs: 600_000 },
  },
  {
    grant: 'reporting-read',
    identityRules: ['reporting-service', 'gitlab-exports'],
    databases: ['orders', 'crm'],
    role: 'reporting_reader',
    readOnly: true,
    allow: ['read', 'session', 'transaction'],
    reads: ['public.*', 'crm.*'],
    writes: [],
    denied: [],
    functions: [],
    rules: [],
    maskedColumns: ['crm.customers.email', 'crm.customers.ssn', 'crm.cards.number'],
    limits: { maxRows: 100_000 },
  },
  {
    grant: 'batch-etl',
    identityRules: ['nightly-batch'],
    databases: ['warehouse'],
    readOnly: false,
    allow: ['read', 'write', 'transaction'],
    reads: ['staging.*'],
    writes: ['staging.*'],
    denied: [],
    functions: [],
    rules: [
      {
        name: 'truncate',
        decision: 'approve',
        reason: 'emptying a staging table',
        approval: { approvers: ['dba'], needed: 2, timeoutSeconds: 3600, covers: 'elevation' },
      },
    ],
    maskedColumns: [],
    limits: {},
  },
];

function control(
  id: ControlId,
  title: string,
  status: ControlStatus['status'],
  reason: string,
  evidence: readonly string[],
): ControlStatus {
  return { control: id, title, status, reason, evidence };
}

export const controls: readonly ControlStatus[] = [
  control(
    'AC-2',
    'Account Management',
    'satisfied-with-findings',
    'One identity seen in the period is no longer admitted by the policy in force; identity rule nightly-batch admitted nobody.',
    ['inventory.json', 'policy-changes.jsonl'],
  ),
  control(
    'AC-6',
    'Least Privilege',
    'satisfied',
    'Every grant states its effective scope; 3 statements were refused.',
    ['scopes.json', 'audit/records.jsonl'],
  ),
  control(
    'AU-2',
    'Event Logging',
    'satisfied',
    'Sessions, statements, approvals and policy reloads were recorded.',
    ['audit/records.jsonl'],
  ),
  control(
    'AU-3',
    'Content of Audit Records',
    'satisfied',
    'Every record carries who, where, what, when and outcome.',
    ['audit/records.jsonl'],
  ),
  control(
    'AU-9',
    'Protection of Audit Information',
    'not-satisfied',
    'The verification of the audit store found a broken hash chain in one session.',
    ['verification.json'],
  ),
  control(
    'AU-10',
    'Non-repudiation',
    'not-satisfied',
    'The records of one session are not covered by a valid signed digest.',
    ['verification.json', 'manifest.json'],
  ),
  control('AU-12', 'Audit Record Generation', 'satisfied', 'Every session and statement produced records.', [
    'audit/records.jsonl',
  ]),
  control(
    'CM-3',
    'Configuration Change Control',
    'satisfied',
    'Two policy versions were applied, none rejected.',
    ['policy-changes.jsonl', 'approvals.jsonl'],
  ),
  control(
    'CM-5',
    'Access Restrictions for Change',
    'satisfied',
    'Every held statement ran only once approved.',
    ['approvals.jsonl'],
  ),
  control(
    'IA-2',
    'Identification and Authentication (Organizational Users)',
    'satisfied-with-findings',
    '5 sessions were refused at authentication and should be reviewed.',
    ['authentication-failures.jsonl'],
  ),
  control(
    'IA-5',
    'Authenticator Management',
    'satisfied',
    'Only unexpired tokens from configured issuers were accepted.',
    ['authentication-failures.jsonl'],
  ),
  control(
    'SC-28',
    'Protection of Information at Rest',
    'satisfied',
    'Masked columns were masked in every result.',
    ['masking.jsonl'],
  ),
];

export const summary: EvidenceSummary = {
  version: 1,
  period: {
    from: '2026-11-01T00:00:00Z',
    to: '2026-11-08T00:00:00Z',
    fromMicros: FROM_MICROS,
    toMicros: TO_MICROS,
  },
  generatedAt: '2026-11-08T00:05:12.345Z',
  policyDigests: ['9f2c4e1a7b3d5f60182a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d', 'a'.repeat(64)],
  counts: {
    sessions: 2033,
    statements: 40_663,
    refusals: 3,
    approvals: { requested: 3, approved: 2, denied: 1, timedOut: 0, cancelled: 0 },
    maskedStatements: 8_074,
    authenticationFailures: 5,
    policyChanges: 2,
  },
  identities,
  identityRules,
  timeline: Array.from({ length: 7 }, (_, day) => ({
    day: new Date((FROM_MICROS + day * DAY_MICROS) / 1000).toISOString().slice(0, 10),
    statements: 5809,
    refusals: day < 3 ? 1 : 0,
    approvals: day === 2 ? 3 : 0,
    authenticationFailures: day === 1 ? 5 : 0,
  })),
  verification: {
    ok: false,
    writers: 2,
    digests: 672,
    chunks: 1344,
    sessions: 2033,
    records: 44_762,
    problems: [
      {
        writer: 'gw-7f3a',
        kind: 'chain-break',
        session: 's-01JD4Q8ZK3',
        detail: 'record 42 does not chain to record 41 (prev differs)',
      },
    ],
  },
  controls,
};

/** The fixture: a fresh copy each time, so a test may change it. */
export function evidenceFixture(): OscalInput {
  return structuredClone({ summary, scopes, inventory: { identities, identityRules } }) as OscalInput;
}

/** The fixture with the summary changed (controls, verification, …). */
export function withSummary(change: (summary: EvidenceSummary) => Partial<EvidenceSummary>): OscalInput {
  const input = evidenceFixture();
  return { ...input, summary: { ...input.summary, ...change(input.summary) } };
}

// ---- The NIST OSCAL 1.0.6 JSON schemas (draft-07), read from outside the repository ----

/** `../shared/reference/oscal/` relative to the repository root; never copied into the repository. */
export const OSCAL_SCHEMA_DIR = path.resolve(__dirname, '../../..', '../shared/reference/oscal');

export const OSCAL_SCHEMA_FILES = {
  assessmentResults: 'oscal_assessment-results_schema.json',
  ssp: 'oscal_ssp_schema.json',
} as const;

/** Whether a document is valid; if not, the errors, one a line, for the failure message. */
export type OscalValidator = (document: unknown) => { valid: boolean; errors: string };

/** A validator for one of the schemas, or why there is none (the directory or the file is missing). */
export function oscalValidator(which: keyof typeof OSCAL_SCHEMA_FILES): OscalValidator | { missing: string } {
  const file = path.join(OSCAL_SCHEMA_DIR, OSCAL_SCHEMA_FILES[which]);
  if (!existsSync(file))
    return {
      missing:
        `the NIST OSCAL 1.0.6 JSON schema ${file} is absent (expected in ../shared/reference/oscal/ next to the ` +
        'repository; it is not vendored), so the documents cannot be validated against it',
    };
  // The NIST schemas are draft-07; they need strict mode off (unknown keywords, \p{L} patterns) and the formats.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate: ValidateFunction = ajv.compile(JSON.parse(readFileSync(file, 'utf8')));
  return (document) => {
    const valid = validate(document) === true;
    return { valid, errors: valid ? '' : formatErrors(validate.errors ?? []) };
  };
}

function formatErrors(errors: readonly ErrorObject[]): string {
  return errors
    .slice(0, 20)
    .map(
      (error) =>
        `${error.instancePath || '/'} ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`,
    )
    .join('\n');
}

/**
 * Whether the schema tests run: without the schemas they are skipped with a message, and under CI
 * (CI=true) a test that fails with the reason is registered instead, since CI must validate.
 */
export function requireOscalSchema(
  validator: OscalValidator | { missing: string },
): validator is OscalValidator {
  if (typeof validator === 'function') return true;
  if (process.env.CI === 'true')
    it('has the NIST OSCAL schema to validate against (required under CI)', () => {
      throw new Error(validator.missing);
    });
  else process.stderr.write(`skipping OSCAL schema validation: ${validator.missing}\n`);
  return false;
}

/** A change that breaks a document: a member (by its path) removed or replaced. */
export interface Breakage {
  readonly at: readonly (string | number)[];
  readonly remove?: true;
  readonly value?: unknown;
}

/** A copy of a document with one change; a path that does not exist is an error in the test. */
export function broken(document: unknown, breakage: Breakage): unknown {
  const copy: unknown = JSON.parse(JSON.stringify(document));
  const parentPath = breakage.at.slice(0, -1);
  const key = breakage.at[breakage.at.length - 1]!;
  let node = copy;
  for (const step of parentPath) {
    if (node === null || typeof node !== 'object') throw new Error(`no member ${breakage.at.join('.')}`);
    node = (node as Record<string | number, unknown>)[step];
  }
  if (node === null || typeof node !== 'object') throw new Error(`no member ${breakage.at.join('.')}`);
  const parent = node as Record<string | number, unknown>;
  if (breakage.remove) {
    if (!(key in parent)) throw new Error(`no member ${breakage.at.join('.')} to remove`);
    delete parent[key];
  } else parent[key] = breakage.value;
  return copy;
}
