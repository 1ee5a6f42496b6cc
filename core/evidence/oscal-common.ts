/**
 * What the two OSCAL documents of the evidence package share (issue 8): deterministic UUIDs, the
 * metadata with the roles and the party, the gateway as a component, package-relative links and
 * timestamps. Pure functions: the same input gives the same document, byte for byte.
 *
 * The documents follow OSCAL 1.0.6 (NIST's JSON schemas of that version validate them in the tests).
 * JSON Schema checks structure only; the references the Metaschema constrains (role ids, party and
 * observation UUIDs, the import-ap fragment) are kept consistent here and checked by the tests.
 *
 * UUIDs are RFC 4122 version 5 (SHA-1 over a Gatehouse namespace and a name). The name is the export's
 * seed (its period and generation time) plus what the object is (a control id, a rule name), so two
 * exports of the same period made at the same time are identical, and the same object has the same UUID
 * in both documents: the gateway component, and the SSP statement a finding points to.
 */

import { createHash } from 'node:crypto';
import path from 'node:path';
import type {
  ControlId,
  EffectiveScope,
  EvidenceSummary,
  IdentityActivity,
  IdentityRuleUsage,
} from './evidence-package';

export const OSCAL_VERSION = '1.0.6';

/** The namespace of Gatehouse's own `props` (OSCAL props without `ns` are NIST's). */
export const GATEHOUSE_OSCAL_NS = 'https://gatehouse.dev/ns/oscal';

/** Where the package carries the two documents (paths as in the manifest). */
export const ASSESSMENT_RESULTS_PATH = 'oscal/assessment-results.json';
export const SSP_PATH = 'oscal/ssp.json';

/** What both builders take: the summary and what inventory.json and scopes.json hold. */
export interface OscalInput {
  readonly summary: EvidenceSummary;
  readonly scopes: readonly EffectiveScope[];
  readonly inventory: {
    readonly identities: readonly IdentityActivity[];
    readonly identityRules: readonly IdentityRuleUsage[];
  };
}

// ---- The OSCAL shapes the builders emit (the subset of the 1.0.6 models they use) ----

export interface OscalProperty {
  readonly name: string;
  readonly ns?: string;
  readonly value: string;
  readonly class?: string;
  readonly remarks?: string;
}

export interface OscalLink {
  readonly href: string;
  readonly rel?: string;
  readonly 'media-type'?: string;
  readonly text?: string;
}

export interface OscalRole {
  readonly id: string;
  readonly title: string;
  readonly description?: string;
}

export interface OscalParty {
  readonly uuid: string;
  readonly type: 'organization' | 'person';
  readonly name?: string;
  readonly 'short-name'?: string;
  readonly remarks?: string;
}

export interface OscalResponsibleParty {
  readonly 'role-id': string;
  readonly 'party-uuids': readonly string[];
}

export interface OscalMetadata {
  readonly title: string;
  readonly 'last-modified': string;
  readonly version: string;
  readonly 'oscal-version': typeof OSCAL_VERSION;
  readonly props?: readonly OscalProperty[];
  readonly roles: readonly OscalRole[];
  readonly parties: readonly OscalParty[];
  readonly 'responsible-parties': readonly OscalResponsibleParty[];
  readonly remarks?: string;
}

export interface OscalComponent {
  readonly uuid: string;
  readonly type: string;
  readonly title: string;
  readonly description: string;
  readonly purpose?: string;
  readonly props?: readonly OscalProperty[];
  readonly links?: readonly OscalLink[];
  readonly status: { readonly state: 'operational' | 'under-development' | 'disposition' | 'other' };
  readonly 'responsible-roles'?: readonly {
    readonly 'role-id': string;
    readonly 'party-uuids'?: readonly string[];
  }[];
  readonly protocols?: readonly { readonly uuid?: string; readonly name: string; readonly title?: string }[];
  readonly remarks?: string;
}

export interface OscalBackMatterResource {
  readonly uuid: string;
  readonly title?: string;
  readonly description?: string;
  readonly props?: readonly OscalProperty[];
  readonly rlinks?: readonly { readonly href: string; readonly 'media-type'?: string }[];
  readonly remarks?: string;
}

// ---- UUIDs ----

/** RFC 4122 §4.3: a name-based UUID, version 5 (SHA-1). */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`not a UUID: ${namespace}`);
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** RFC 4122 Appendix C's URL namespace. */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** Gatehouse's namespace for the UUIDs of its OSCAL documents: v5 of its URL in the URL namespace. */
export const GATEHOUSE_UUID_NAMESPACE = uuidV5(URL_NAMESPACE, GATEHOUSE_OSCAL_NS);

/** The seed of one export: its period and when it was generated. */
export function exportSeed(summary: EvidenceSummary): string {
  return JSON.stringify([summary.period.from, summary.period.to, summary.generatedAt]);
}

/** The UUID of one object of an export's documents, e.g. `oscalUuid(seed, 'finding', 'AU-9')`. */
export function oscalUuid(seed: string, ...parts: readonly string[]): string {
  return uuidV5(GATEHOUSE_UUID_NAMESPACE, JSON.stringify([seed, ...parts]));
}

/** The gateway as a component: the same UUID in the SSP (this-system) and the AR (subject and tool). */
export function gatewayComponentUuid(seed: string): string {
  return oscalUuid(seed, 'component', 'gatehouse');
}

/** The SSP's by-component statement for a control, which the AR's finding names as its implementation statement. */
export function implementationStatementUuid(seed: string, control: ControlId): string {
  return oscalUuid(seed, 'ssp', 'by-component', control);
}

// ---- Controls ----

/** OSCAL's control id: lower case (`AC-2` → `ac-2`, `AU-10` → `au-10`). */
export function oscalControlId(control: ControlId): string {
  return control.toLowerCase();
}

/** The controls of the summary, refusing a control named twice (its UUIDs would collide). */
export function summaryControls(summary: EvidenceSummary): EvidenceSummary['controls'] {
  const seen = new Set<string>();
  for (const status of summary.controls) {
    if (seen.has(status.control)) throw new Error(`the summary names control ${status.control} twice`);
    seen.add(status.control);
  }
  if (summary.controls.length === 0) throw new Error('the summary names no control');
  return summary.controls;
}

// ---- Times ----

/** An ISO 8601 time in UTC (`…Z`), as the OSCAL date-time-with-timezone type wants it. */
export function isoTimestamp(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${value}`);
  return new Date(ms).toISOString();
}

/** Microseconds since the epoch as an ISO 8601 time in UTC, keeping the microseconds when there are any. */
export function microsToIso(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new Error(`not a time in microseconds: ${micros}`);
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString();
  return rest === 0 ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}

// ---- Links into the package ----

/**
 * A relative link from one package file (an OSCAL document) to another: resolved against the
 * document's own location it names the package path, e.g. from `oscal/assessment-results.json`,
 * `audit/records.jsonl` is `../audit/records.jsonl`. Segments are percent-encoded, so any path is a
 * valid URI reference.
 */
export function packageHref(fromDocument: string, packagePath: string): string {
  const relative = path.posix.relative(path.posix.dirname(fromDocument), packagePath);
  return relative
    .split('/')
    .map((segment) => (segment === '..' ? segment : encodeURIComponent(segment)))
    .join('/');
}

/** What each package file is (the contract's file list), for evidence descriptions. */
const PACKAGE_FILES: Readonly<Record<string, string>> = {
  'manifest.json': "The package's manifest: every file's path, size and SHA-256, signed with the audit key",
  'summary.json': 'The summary: counts, timeline and control statuses of the period',
  'inventory.json': 'AC-2 inventory: the identity rules of the policy and the identities seen',
  'scopes.json': "AC-6 effective scopes: each grant's databases, role, objects, rules and masking",
  'audit/records.jsonl': 'Every audit record of the period, as stored',
  'approvals.jsonl': 'Approval events and the statements that ran under them',
  'masking.jsonl': 'Statements whose results were masked or withheld',
  'authentication-failures.jsonl': 'Sessions refused at authentication',
  'policy-changes.jsonl': 'Policy versions applied or rejected',
  'verification.json': 'The integrity verification of the audit store (hash chains and signed digests)',
  'controls.json': 'The control map: per control, status, reason and evidence files',
  'oscal/assessment-results.json': 'The assessment results (OSCAL)',
  'oscal/ssp.json': "The gateway's part of the system security plan (OSCAL)",
  'report.html': 'The human-readable report',
};

export function packageFileDescription(packagePath: string): string {
  return PACKAGE_FILES[packagePath] ?? `Package file ${packagePath}`;
}

/** A Gatehouse prop (in Gatehouse's namespace). */
export function gatehouseProp(name: string, value: string, remarks?: string): OscalProperty {
  return remarks === undefined
    ? { name, ns: GATEHOUSE_OSCAL_NS, value: oscalString(value) }
    : { name, ns: GATEHOUSE_OSCAL_NS, value: oscalString(value), remarks };
}

/**
 * A value for OSCAL's non-empty string type (one line, no leading or trailing whitespace): runs of
 * whitespace made one space, trimmed, and a placeholder for an empty value.
 */
export function oscalString(value: string): string {
  const trimmed = value.replace(/\s+/g, ' ').trim();
  return trimmed.length === 0 ? '(empty)' : trimmed;
}

// ---- Metadata ----

/** The party that prepares the documents: the organisation that runs the gateway, which it cannot name. */
export function operatorParty(seed: string): OscalParty {
  return {
    uuid: oscalUuid(seed, 'party', 'operator'),
    type: 'organization',
    name: 'Operator of this Gatehouse deployment',
    'short-name': 'Gatehouse operator',
    remarks:
      'The organisation that runs this gateway. Gatehouse generated this document from its audit trail and does ' +
      'not know the organisation by name; the system owner can replace this party.',
  };
}

export const PREPARED_BY_ROLE: OscalRole = {
  id: 'prepared-by',
  title: 'Prepared By',
  description: 'Generated the document: the Gatehouse access gateway, run by its operator.',
};

/** Metadata common to both documents; the roles beyond `prepared-by` are the document's own. */
export function metadata(
  input: OscalInput,
  seed: string,
  title: string,
  extraRoles: readonly OscalRole[] = [],
): OscalMetadata {
  const party = operatorParty(seed);
  const { summary } = input;
  return {
    title,
    'last-modified': isoTimestamp(summary.generatedAt),
    version: isoTimestamp(summary.generatedAt),
    'oscal-version': OSCAL_VERSION,
    props: [
      gatehouseProp('evidence-package-version', String(summary.version)),
      gatehouseProp('period-start', microsToIso(summary.period.fromMicros)),
      gatehouseProp('period-end', microsToIso(summary.period.toMicros)),
    ],
    roles: [PREPARED_BY_ROLE, ...extraRoles],
    parties: [party],
    'responsible-parties': [{ 'role-id': PREPARED_BY_ROLE.id, 'party-uuids': [party.uuid] }],
  };
}

/** The gateway as a component (in the SSP: this system; in the AR: the subject and the tool). */
export function gatewayComponent(seed: string): OscalComponent {
  return {
    uuid: gatewayComponentUuid(seed),
    type: 'this-system',
    title: 'Gatehouse access gateway',
    description:
      'Gatehouse, an access gateway in front of PostgreSQL for machine identities: it admits clients by their ' +
      'OIDC tokens against identity rules, decides every statement against the grants of its policy (refusing, ' +
      'asking for approval, masking results), and writes every session and statement to a hash-chained audit ' +
      'trail whose digests it signs. It generated this document from that trail.',
    purpose: 'Controlled, audited access of machine identities to PostgreSQL databases.',
    status: { state: 'operational' },
    protocols: [
      {
        uuid: oscalUuid(seed, 'protocol', 'postgresql'),
        name: 'postgresql',
        title: 'PostgreSQL frontend/backend protocol over TLS',
      },
    ],
  };
}
