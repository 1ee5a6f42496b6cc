/**
 * The package's `oscal/ssp.json`: the gateway's part of an OSCAL 1.0.6 System Security Plan, as the
 * policy in force during the exported period makes it. The organisation's own plan imports or merges
 * it; what lies outside the gateway (the database servers, the token issuers, the hosting platform) is
 * not described here.
 *
 * Mapping:
 *   - import-profile: NIST's SP 800-53 rev 5 MODERATE baseline profile as published in
 *     usnistgov/oscal-content (absolute URL; the package does not carry it). AU-10 is not in that
 *     baseline (it is in HIGH): its requirement is still stated, with a remark.
 *   - system-characteristics: the gateway as the system ("Gatehouse access gateway"), moderate
 *     sensitivity and impact to match the baseline (defaults for the organisation to adjust), one
 *     information type (SP 800-60 C.3.5.8, system and network monitoring: the audit and authorisation
 *     records), operational, and an authorisation boundary drawn around the gateway. The package has no
 *     deployment identifier, so the system id is derived from the export like every other UUID.
 *   - system-implementation: the gateway as the `this-system` component (the same UUID the assessment
 *     results use); a user per identity rule of the policy (AC-2: the rules are the accounts of machine
 *     identities), role `machine-identity`, with an authorised privilege per grant the rule is admitted
 *     under, its functions taken from the grant's effective scope (AC-6); and a user per approver named by
 *     an approval rule, role `approver`.
 *   - control-implementation: an implemented requirement per control of the summary, with one
 *     by-component statement saying how Gatehouse implements it, links to its evidence files (relative to
 *     this document), and the period's assessment in its remarks. The statement's UUID is the one the
 *     assessment results' finding names as its implementation statement.
 */

import type { ControlId, ControlStatus, EffectiveScope, IdentityRuleUsage } from './evidence-package';
import {
  exportSeed,
  gatehouseProp,
  gatewayComponent,
  gatewayComponentUuid,
  implementationStatementUuid,
  metadata,
  microsToIso,
  type OscalComponent,
  type OscalInput,
  type OscalLink,
  type OscalMetadata,
  type OscalProperty,
  type OscalRole,
  oscalControlId,
  oscalString,
  oscalUuid,
  packageFileDescription,
  packageHref,
  SSP_PATH,
  summaryControls,
} from './oscal-common';

/** NIST SP 800-53 rev 5 MODERATE baseline profile, OSCAL JSON, as NIST publishes it. */
export const MODERATE_BASELINE_PROFILE =
  'https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_MODERATE-baseline_profile.json';

export const MACHINE_IDENTITY_ROLE: OscalRole = {
  id: 'machine-identity',
  title: 'Machine identity',
  description:
    'A workload (CI job, service, agent) admitted by an identity rule of the policy: its OIDC token names the ' +
    'issuer and carries the claims the rule requires.',
};

export const APPROVER_ROLE: OscalRole = {
  id: 'approver',
  title: 'Statement approver',
  description:
    'A person (or group of people) named by an approval rule, who approves or denies held statements.',
};

export interface OscalAuthorizedPrivilege {
  readonly title: string;
  readonly description?: string;
  readonly 'functions-performed': readonly string[];
}

export interface OscalSystemUser {
  readonly uuid: string;
  readonly title: string;
  readonly 'short-name'?: string;
  readonly description: string;
  readonly props?: readonly OscalProperty[];
  readonly 'role-ids': readonly string[];
  readonly 'authorized-privileges'?: readonly OscalAuthorizedPrivilege[];
  readonly remarks?: string;
}

export interface OscalByComponent {
  readonly 'component-uuid': string;
  readonly uuid: string;
  readonly description: string;
  readonly links?: readonly OscalLink[];
  readonly 'implementation-status': {
    readonly state: 'implemented' | 'partial' | 'planned' | 'alternative' | 'not-applicable';
  };
  readonly remarks?: string;
}

export interface OscalImplementedRequirement {
  readonly uuid: string;
  readonly 'control-id': string;
  readonly props?: readonly OscalProperty[];
  readonly 'by-components': readonly OscalByComponent[];
  readonly remarks?: string;
}

export interface SystemSecurityPlanDocument {
  readonly 'system-security-plan': {
    readonly uuid: string;
    readonly metadata: OscalMetadata;
    readonly 'import-profile': { readonly href: string; readonly remarks?: string };
    readonly 'system-characteristics': {
      readonly 'system-ids': readonly { readonly 'identifier-type': string; readonly id: string }[];
      readonly 'system-name': string;
      readonly 'system-name-short': string;
      readonly description: string;
      readonly 'security-sensitivity-level': string;
      readonly 'system-information': {
        readonly 'information-types': readonly {
          readonly uuid: string;
          readonly title: string;
          readonly description: string;
          readonly categorizations: readonly {
            readonly system: string;
            readonly 'information-type-ids': readonly string[];
          }[];
          readonly 'confidentiality-impact': { readonly base: string };
          readonly 'integrity-impact': { readonly base: string };
          readonly 'availability-impact': { readonly base: string };
        }[];
      };
      readonly 'security-impact-level': {
        readonly 'security-objective-confidentiality': string;
        readonly 'security-objective-integrity': string;
        readonly 'security-objective-availability': string;
      };
      readonly status: { readonly state: 'operational'; readonly remarks?: string };
      readonly 'authorization-boundary': { readonly description: string };
      readonly remarks?: string;
    };
    readonly 'system-implementation': {
      readonly users: readonly OscalSystemUser[];
      readonly components: readonly OscalComponent[];
      readonly remarks?: string;
    };
    readonly 'control-implementation': {
      readonly description: string;
      readonly 'implemented-requirements': readonly OscalImplementedRequirement[];
    };
  };
}

/** The gateway's part of the system security plan, as of the export's period. */
export function systemSecurityPlan(input: OscalInput): SystemSecurityPlanDocument {
  const { summary } = input;
  const seed = exportSeed(summary);
  const controls = summaryControls(summary);
  const start = microsToIso(summary.period.fromMicros);
  const end = microsToIso(summary.period.toMicros);
  return {
    'system-security-plan': {
      uuid: oscalUuid(seed, 'system-security-plan'),
      metadata: metadata(
        input,
        seed,
        `Gatehouse access gateway: system security plan (gateway part), ${start} to ${end}`,
        [MACHINE_IDENTITY_ROLE, APPROVER_ROLE],
      ),
      'import-profile': {
        href: MODERATE_BASELINE_PROFILE,
        remarks:
          'NIST SP 800-53 rev 5 MODERATE baseline (usnistgov/oscal-content). AU-10 is outside this baseline ' +
          '(it is in the HIGH baseline); its implementation is stated for organisations that select it.',
      },
      'system-characteristics': systemCharacteristics(seed),
      'system-implementation': {
        users: users(input, seed),
        components: [gatewayComponent(seed)],
        remarks:
          'Users are the identity rules of the policy in force at the end of the period (each the account of ' +
          'the machine identities it admits) and the approvers its approval rules name.',
      },
      'control-implementation': {
        description:
          'How the Gatehouse access gateway implements the controls of its control map. Each statement links the ' +
          'package files that are its evidence; the assessment of the period is in assessment-results.json.',
        'implemented-requirements': controls.map((status) => implementedRequirement(seed, status)),
      },
    },
  };
}

function systemCharacteristics(
  seed: string,
): SystemSecurityPlanDocument['system-security-plan']['system-characteristics'] {
  return {
    'system-ids': [{ 'identifier-type': 'https://ietf.org/rfc/rfc4122', id: oscalUuid(seed, 'system') }],
    'system-name': 'Gatehouse access gateway',
    'system-name-short': 'Gatehouse',
    description:
      'The access path between machine identities (CI jobs, services, agents) and PostgreSQL. Workloads connect ' +
      'with any PostgreSQL client and present a short-lived OIDC token as their password; the gateway verifies ' +
      'it, admits the identity under the grants of its policy, decides every statement (allow, refuse, hold for ' +
      'approval, mask results), and records every session and statement in a signed, hash-chained audit trail.',
    'security-sensitivity-level': 'moderate',
    'system-information': {
      'information-types': [
        {
          uuid: oscalUuid(seed, 'information-type', 'access-records'),
          title: 'System and Network Monitoring',
          description:
            'The access policy, the audit trail of database sessions and statements (identities, statement text ' +
            'with secrets redacted, decisions, outcomes), approvals and masking decisions.',
          categorizations: [
            { system: 'http://doi.org/10.6028/NIST.SP.800-60v2r1', 'information-type-ids': ['C.3.5.8'] },
          ],
          'confidentiality-impact': { base: 'fips-199-moderate' },
          'integrity-impact': { base: 'fips-199-moderate' },
          'availability-impact': { base: 'fips-199-moderate' },
        },
      ],
    },
    'security-impact-level': {
      'security-objective-confidentiality': 'fips-199-moderate',
      'security-objective-integrity': 'fips-199-moderate',
      'security-objective-availability': 'fips-199-moderate',
    },
    status: { state: 'operational' },
    'authorization-boundary': {
      description:
        "The gateway's part of the system: the Gatehouse gateway processes (local mode, or container tasks " +
        'behind an internal load balancer), their policy, the approval workflow, and the audit store with its ' +
        'signing key. Outside the boundary, and described by the organisation: the PostgreSQL servers behind ' +
        'the gateway, the OIDC issuers that sign workload tokens, the clients, and the hosting platform.',
    },
    remarks:
      'Impact levels are the moderate defaults that match the imported baseline; the organisation sets its own. ' +
      'The system id is derived from this export: the evidence package carries no deployment identifier.',
  };
}

function users(input: OscalInput, seed: string): OscalSystemUser[] {
  const scopes = new Map(input.scopes.map((scope) => [scope.grant, scope]));
  const ruleUsers = input.inventory.identityRules.map((rule) => identityRuleUser(input, seed, rule, scopes));
  const approverUsers = approvers(input.scopes).map(([approver, duties]) => ({
    uuid: oscalUuid(seed, 'user', 'approver', approver),
    title: `Approver ${oscalString(approver)}`,
    'short-name': oscalString(approver),
    description: `Named by approval rules (as a person or a group): approves or denies statements held under ${duties.length} rule(s).`,
    props: [gatehouseProp('approver', approver)],
    'role-ids': [APPROVER_ROLE.id],
    'authorized-privileges': [{ title: 'Approve held statements', 'functions-performed': duties }],
  }));
  const all = [...ruleUsers, ...approverUsers];
  if (all.length > 0) return all;
  // OSCAL 1.0.6 requires a user; a policy without identity rules admits nobody.
  return [
    {
      uuid: oscalUuid(seed, 'user', 'none'),
      title: 'Machine identities (none admitted)',
      description: 'The policy in force names no identity rule: no machine identity is admitted.',
      'role-ids': [MACHINE_IDENTITY_ROLE.id],
    },
  ];
}

function identityRuleUser(
  input: OscalInput,
  seed: string,
  rule: IdentityRuleUsage,
  scopes: ReadonlyMap<string, EffectiveScope>,
): OscalSystemUser {
  const claims = Object.entries(rule.claims);
  const gone = input.inventory.identities.filter(
    (identity) => !identity.admittedNow && identity.identityRules.includes(rule.name),
  );
  const remarks = [
    ...(rule.unused
      ? ['Unused in the period: the rule admitted no identity (AC-2: review whether it is still needed).']
      : []),
    ...(gone.length > 0
      ? [
          `Seen under this rule but no longer admitted at the end of the period: ${gone
            .map((identity) => `${identity.subject} (${identity.issuer})`)
            .join('; ')}.`,
        ]
      : []),
  ];
  const privileges = rule.grants.map((grant) => scopePrivilege(grant, scopes.get(grant)));
  return {
    uuid: oscalUuid(seed, 'user', 'identity-rule', rule.issuer, rule.name),
    title: `Identity rule ${oscalString(rule.name)}`,
    'short-name': oscalString(rule.name),
    description:
      `Machine identities whose token is issued by ${rule.issuer}` +
      (claims.length === 0
        ? ''
        : ` with ${claims.map(([claim, values]) => `${claim} ${values.length === 0 ? 'present' : `in [${values.join(', ')}]`}`).join(', ')}`) +
      (rule.grants.length === 0
        ? ', admitted under no grant.'
        : `, admitted under grant(s) ${rule.grants.join(', ')}.`) +
      ` ${rule.identitiesSeen} identity(ies) seen in the period.`,
    props: [
      gatehouseProp('identity-rule', rule.name),
      gatehouseProp('issuer', rule.issuer),
      ...claims.map(([claim, values]) =>
        gatehouseProp('claim', `${claim}: ${values.join(', ') || '(present)'}`),
      ),
      gatehouseProp('identities-seen', String(rule.identitiesSeen)),
      gatehouseProp('unused', String(rule.unused)),
    ],
    'role-ids': [MACHINE_IDENTITY_ROLE.id],
    ...(privileges.length > 0 ? { 'authorized-privileges': privileges } : {}),
    ...(remarks.length > 0 ? { remarks: remarks.join('\n\n') } : {}),
  };
}

/** A grant's effective scope as an authorised privilege: what it lets an identity do (AC-6). */
function scopePrivilege(grant: string, scope: EffectiveScope | undefined): OscalAuthorizedPrivilege {
  if (scope === undefined)
    return {
      title: `Grant ${oscalString(grant)}`,
      description: 'The grant is not in the effective scopes of the package (scopes.json).',
      'functions-performed': ['unknown: the effective scope is not stated'],
    };
  const as = scope.role === undefined ? '' : ` as role ${scope.role}`;
  const functions = [
    ...scope.databases.map((database) => `connect to database ${database}${as}`),
    ...(scope.readOnly ? ['read-only transactions only'] : []),
    ...scope.allow.map((kind) => `run ${kind} statements`),
    ...scope.reads.map((relation) => `read ${relation}`),
    ...scope.writes.map((relation) => `write ${relation}`),
    ...scope.functions.map((fn) => `execute function ${fn}`),
    ...scope.rules
      .filter((rule) => rule.decision === 'approve')
      .map((rule) => `run statements of rule ${rule.name} once approved`),
  ].map(oscalString);
  const limits = Object.entries(scope.limits);
  const restrictions = [
    scope.denied.length > 0 ? `Denied relations: ${scope.denied.join(', ')}.` : '',
    ...scope.rules
      .filter((rule) => rule.decision === 'deny')
      .map((rule) => `Rule ${rule.name} refuses${rule.reason ? `: ${sentence(rule.reason)}` : '.'}`),
    scope.maskedColumns.length > 0 ? `Masked columns: ${scope.maskedColumns.join(', ')}.` : '',
    limits.length > 0
      ? `Limits: ${limits.map(([name, value]) => `${name} ${JSON.stringify(value)}`).join(', ')}.`
      : '',
  ].filter((text) => text.length > 0);
  return {
    title: `Grant ${oscalString(grant)}`,
    description:
      `Effective scope of grant ${grant} (scopes.json): databases ${scope.databases.join(', ') || 'none'}` +
      `${as}, ${scope.readOnly ? 'read-only' : 'read-write'}.` +
      (restrictions.length > 0 ? ` ${restrictions.join(' ')}` : ''),
    'functions-performed': functions.length > 0 ? functions : ['none: the grant admits no statement'],
  };
}

/** A text ending as a sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** Each approver or group named by an approval rule, with the approvals it may give, in first-seen order. */
function approvers(scopes: readonly EffectiveScope[]): [string, string[]][] {
  const duties = new Map<string, string[]>();
  for (const scope of scopes)
    for (const rule of scope.rules) {
      if (rule.decision !== 'approve' || rule.approval === undefined) continue;
      const { approval } = rule;
      const duty = oscalString(
        `approve statements of rule ${rule.name} under grant ${scope.grant} (${approval.needed} needed, ` +
          `within ${approval.timeoutSeconds} s, covering ${approval.covers})`,
      );
      for (const approver of approval.approvers) {
        const list = duties.get(approver) ?? [];
        if (!list.includes(duty)) list.push(duty);
        duties.set(approver, list);
      }
    }
  return [...duties];
}

/** How Gatehouse implements each control of its map (the by-component statement). */
const IMPLEMENTATION: Record<ControlId, string> = {
  'AC-2':
    'Machine identities are admitted only when their OIDC token comes from a configured issuer and carries the ' +
    'claims an identity rule of the policy requires, and only to the databases its grants name; everything not ' +
    'granted is denied. The identity rules are the accounts (the users of this plan). The inventory lists each ' +
    'rule with the identities it admitted, the rules that admitted nobody, and every identity seen with whether ' +
    'the policy in force at the end of the period still admits it.',
  'AC-6':
    'Each grant fixes the upstream role (the workload never sees its credential and cannot SET ROLE), read-only ' +
    'transactions, the statement classes, the relations read and written, the functions and the deny and approve ' +
    "rules; statements outside the grant are refused before they reach the server. Each grant's effective scope " +
    "is listed, and the users' authorised privileges are taken from it.",
  'AU-2':
    'The gateway logs every connection (including those refused, with the failed check), every statement ' +
    'executed or refused with its decision, approvals, masking, and every policy reload, applied or rejected.',
  'AU-3':
    'Each record states who (issuer, subject, claims), from where (client address, endpoint), what (the statement ' +
    'with password-bearing literals redacted, the SHA-256 of its exact text, bind parameters by SHA-256), the ' +
    'decision and the rule that made it, the outcome (command tag and rows, or SQLSTATE), and start and end times ' +
    'in microseconds.',
  'AU-9':
    "Each session's records form a hash chain; each gateway process closes them into chunks and writes digests " +
    "listing every chunk's SHA-256 and each session's chain head, chained to the previous digest and signed " +
    '(ECDSA P-256; KMS in AWS, where the store is S3 with Object Lock in compliance mode). The verification, ' +
    'which needs only the public key, names any record changed, removed, reordered or inserted and any digest ' +
    'missing or forged.',
  'AU-10':
    'Digests are signed with a key only the gateway can use (a KMS key in AWS), binding every record to the ' +
    'gateway process that wrote it; anyone holding the public key can prove which records the gateway wrote.',
  'AU-12':
    'The gateway generates the records itself, on every connection path and for every statement, and writes each ' +
    'to its spool before the client receives the result it describes; for strict statement classes the record ' +
    'is held by the shared store before the statement is forwarded.',
  'CM-3':
    'Policy changes take effect only when the new policy validates; every reload is recorded as applied or ' +
    'rejected with its digest. Changes to data under approval rules run only once approved.',
  'CM-5':
    'Statements under approval rules are held until the named approvers approve that exact statement (the ' +
    'SHA-256 of its text and parameters, the identity and the database); the person behind a job may not approve ' +
    'what it asks, and one denial refuses. Approvals and the statements run under them are recorded.',
  'IA-2':
    "Every session authenticates with the workload's short-lived OIDC token, verified against its issuer's keys " +
    '(signature, issuer, audience, expiry, required claims); the identity is the issuer and subject, never the ' +
    'startup user name. Sessions refused at authentication are recorded with the failed check.',
  'IA-5':
    "Authenticators are the issuers' short-lived tokens: expiry and algorithms are checked per issuer, keys come " +
    "from the issuer's JWKS (refetched only for an unknown key id, rate limited), and an address with repeated " +
    'failures is refused unchecked for a while. The upstream database credential stays with the gateway.',
  'SC-28':
    "Results are masked by lineage according to the grant's masking rules, or withheld when masking cannot be " +
    'guaranteed; audit records keep bind parameters as SHA-256 only and redact password-bearing literals. In AWS ' +
    'the audit store is encrypted with a KMS key.',
};

const REQUIREMENT_REMARKS: Partial<Record<ControlId, string>> = {
  'AU-10':
    'Not in the SP 800-53 rev 5 MODERATE baseline (it is in HIGH); stated for organisations that select it.',
  'IA-2':
    'For machine identities, IA-9 (service identification and authentication) describes this implementation ' +
    'more closely; the control map names IA-2.',
};

function implementedRequirement(seed: string, status: ControlStatus): OscalImplementedRequirement {
  const links = status.evidence.map(
    (packagePath): OscalLink => ({
      href: packageHref(SSP_PATH, packagePath),
      rel: 'reference',
      text: packageFileDescription(packagePath),
    }),
  );
  const evidence =
    status.evidence.length > 0
      ? ` Evidence in the package: ${status.evidence.join(', ')}.`
      : ' The package names no evidence file.';
  const remarks = REQUIREMENT_REMARKS[status.control];
  return {
    uuid: oscalUuid(seed, 'implemented-requirement', status.control),
    'control-id': oscalControlId(status.control),
    props: [gatehouseProp('control', status.control)],
    'by-components': [
      {
        'component-uuid': gatewayComponentUuid(seed),
        uuid: implementationStatementUuid(seed, status.control),
        description: `${IMPLEMENTATION[status.control] ?? `Gatehouse implements ${status.control} (${status.title}).`}${evidence}`,
        ...(links.length > 0 ? { links } : {}),
        'implementation-status': { state: 'implemented' },
        remarks: `Assessed for the period (assessment-results.json): ${status.status}. ${status.reason}`,
      },
    ],
    ...(remarks === undefined ? {} : { remarks }),
  };
}
