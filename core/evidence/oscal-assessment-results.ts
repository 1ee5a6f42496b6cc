/**
 * The package's `oscal/assessment-results.json`: the control map of the summary as an OSCAL 1.0.6
 * Assessment Results document, one result for the exported period.
 *
 * Mapping (per control of the summary, in its order):
 *   - reviewed-controls: every control, lower case (`AC-2` → `ac-2`).
 *   - an observation: its evidence files as relevant-evidence (links relative to this document, so
 *     they resolve to the package paths the control names; the exact path also as a `package-path`
 *     prop), what the data shows, collected at the package's generation time. Method `TEST` for the
 *     integrity verification (AU-9, AU-10, or any control whose evidence is verification.json: the
 *     verifier recomputes hash chains and checks signatures), `EXAMINE` for the others (records examined).
 *     OSCAL 1.0.6 allows EXAMINE, INTERVIEW, TEST and UNKNOWN only; that the assessment is automated is
 *     said by the origin: the actor is the gateway component, of type `tool`.
 *   - a finding targeting the control's assessment objective (`objective-id`, `ac-2_obj`), linked to the
 *     observation and to the SSP's by-component statement of the control (same derived UUID):
 *       satisfied               → state `satisfied`, reason `pass`
 *       not-satisfied           → state `not-satisfied`, reason `fail`, plus a risk
 *       satisfied-with-findings → state `satisfied`, reason `other`, the findings in the status remarks,
 *                                 and the observation typed `finding`. No risk: these are items to review
 *                                 (identities no longer admitted, authentication failures), not weaknesses
 *                                 of the control; the exact status stays in a `control-status` prop.
 *   - a risk (status `open`) for each not-satisfied control, with what the failure exposes; for the
 *     integrity controls it lists the verification's problems (tampering, gaps, bad signatures).
 *
 * import-ap: Gatehouse has no separate assessment plan; its plan is fixed (the control map). The
 * required href is a fragment naming a back-matter resource that says so and links to controls.json.
 */

import type { ControlId, ControlStatus, VerificationSummary } from './evidence-package';
import {
  ASSESSMENT_RESULTS_PATH,
  exportSeed,
  gatehouseProp,
  gatewayComponent,
  gatewayComponentUuid,
  implementationStatementUuid,
  isoTimestamp,
  metadata,
  microsToIso,
  type OscalBackMatterResource,
  type OscalComponent,
  type OscalInput,
  type OscalLink,
  type OscalMetadata,
  type OscalProperty,
  oscalControlId,
  oscalUuid,
  packageFileDescription,
  packageHref,
  SSP_PATH,
  summaryControls,
} from './oscal-common';

export interface OscalOrigin {
  readonly actors: readonly {
    readonly type: 'tool' | 'assessment-platform' | 'party';
    readonly 'actor-uuid': string;
  }[];
}

export interface OscalRelevantEvidence {
  readonly href?: string;
  readonly description: string;
  readonly props?: readonly OscalProperty[];
  readonly remarks?: string;
}

export interface OscalObservation {
  readonly uuid: string;
  readonly title?: string;
  readonly description: string;
  readonly props?: readonly OscalProperty[];
  readonly methods: readonly ('EXAMINE' | 'INTERVIEW' | 'TEST' | 'UNKNOWN')[];
  readonly types?: readonly string[];
  readonly origins?: readonly OscalOrigin[];
  readonly subjects?: readonly { readonly 'subject-uuid': string; readonly type: string }[];
  readonly 'relevant-evidence'?: readonly OscalRelevantEvidence[];
  readonly collected: string;
  readonly remarks?: string;
}

export interface OscalFinding {
  readonly uuid: string;
  readonly title: string;
  readonly description: string;
  readonly props?: readonly OscalProperty[];
  readonly origins?: readonly OscalOrigin[];
  readonly target: {
    readonly type: 'objective-id' | 'statement-id';
    readonly 'target-id': string;
    readonly title?: string;
    readonly status: {
      readonly state: 'satisfied' | 'not-satisfied';
      readonly reason?: 'pass' | 'fail' | 'other';
      readonly remarks?: string;
    };
  };
  readonly 'implementation-statement-uuid'?: string;
  readonly 'related-observations'?: readonly { readonly 'observation-uuid': string }[];
  readonly 'related-risks'?: readonly { readonly 'risk-uuid': string }[];
  readonly remarks?: string;
}

export interface OscalRisk {
  readonly uuid: string;
  readonly title: string;
  readonly description: string;
  readonly statement: string;
  readonly props?: readonly OscalProperty[];
  readonly status:
    | 'open'
    | 'investigating'
    | 'remediating'
    | 'deviation-requested'
    | 'deviation-approved'
    | 'closed';
  readonly origins?: readonly OscalOrigin[];
  readonly 'related-observations'?: readonly { readonly 'observation-uuid': string }[];
}

export interface OscalResult {
  readonly uuid: string;
  readonly title: string;
  readonly description: string;
  readonly start: string;
  readonly end: string;
  readonly props?: readonly OscalProperty[];
  readonly links?: readonly OscalLink[];
  readonly 'local-definitions': { readonly components: readonly OscalComponent[] };
  readonly 'reviewed-controls': {
    readonly 'control-selections': readonly {
      readonly 'include-controls': readonly { readonly 'control-id': string }[];
    }[];
  };
  readonly observations: readonly OscalObservation[];
  readonly risks?: readonly OscalRisk[];
  readonly findings: readonly OscalFinding[];
}

export interface AssessmentResultsDocument {
  readonly 'assessment-results': {
    readonly uuid: string;
    readonly metadata: OscalMetadata;
    readonly 'import-ap': { readonly href: string; readonly remarks?: string };
    readonly results: readonly OscalResult[];
    readonly 'back-matter': { readonly resources: readonly OscalBackMatterResource[] };
  };
}

/** The assessment results of one export: one result for its period, a finding per control. */
export function assessmentResults(input: OscalInput): AssessmentResultsDocument {
  const { summary } = input;
  const seed = exportSeed(summary);
  const controls = summaryControls(summary);
  const start = microsToIso(summary.period.fromMicros);
  const end = microsToIso(summary.period.toMicros);
  const plan = assessmentPlanResource(seed);
  const origin: OscalOrigin = { actors: [{ type: 'tool', 'actor-uuid': gatewayComponentUuid(seed) }] };

  const observations: OscalObservation[] = [];
  const findings: OscalFinding[] = [];
  const risks: OscalRisk[] = [];
  for (const status of controls) {
    const observation = controlObservation(input, seed, status, origin);
    observations.push(observation);
    const risk =
      status.status === 'not-satisfied' ? controlRisk(input, seed, status, origin, observation) : undefined;
    if (risk) risks.push(risk);
    findings.push(controlFinding(seed, status, origin, observation, risk));
  }

  const result: OscalResult = {
    uuid: oscalUuid(seed, 'result'),
    title: `Gatehouse evidence from ${start} to ${end}`,
    description: resultDescription(input),
    start,
    end,
    props: summary.policyDigests.map((digest) => gatehouseProp('policy-sha256', digest)),
    links: [
      { href: packageHref(ASSESSMENT_RESULTS_PATH, 'summary.json'), rel: 'reference', text: 'Summary' },
      {
        href: packageHref(ASSESSMENT_RESULTS_PATH, SSP_PATH),
        rel: 'reference',
        text: 'System security plan',
      },
    ],
    'local-definitions': { components: [gatewayComponent(seed)] },
    'reviewed-controls': {
      'control-selections': [
        { 'include-controls': controls.map((status) => ({ 'control-id': oscalControlId(status.control) })) },
      ],
    },
    observations,
    ...(risks.length > 0 ? { risks } : {}),
    findings,
  };

  return {
    'assessment-results': {
      uuid: oscalUuid(seed, 'assessment-results'),
      metadata: metadata(input, seed, `Gatehouse assessment results, ${start} to ${end}`),
      'import-ap': {
        href: `#${plan.uuid}`,
        remarks:
          'Gatehouse has no separate assessment plan: the back-matter resource this names describes the fixed ' +
          'plan (the control map, controls.json).',
      },
      results: [result],
      'back-matter': { resources: [plan] },
    },
  };
}

function assessmentPlanResource(seed: string): OscalBackMatterResource {
  return {
    uuid: oscalUuid(seed, 'assessment-plan'),
    title: 'Assessment plan: the Gatehouse control map',
    description:
      'There is no separate OSCAL assessment plan. The plan is fixed by the gateway: for the period exported, ' +
      'each control of the control map (controls.json) is assessed automatically from the package files it ' +
      'names; the system assessed is described in ssp.json.',
    rlinks: [
      { href: packageHref(ASSESSMENT_RESULTS_PATH, 'controls.json'), 'media-type': 'application/json' },
    ],
  };
}

function resultDescription({ summary }: OscalInput): string {
  const { counts } = summary;
  return (
    'Automated assessment by the Gatehouse access gateway of its audit trail for the period, with the ' +
    `policy in force (${summary.policyDigests.length} policy version(s)): ${counts.sessions} session(s), ` +
    `${counts.statements} statement(s), ${counts.refusals} refusal(s), ${counts.approvals.requested} ` +
    `approval request(s), ${counts.maskedStatements} masked statement(s), ${counts.authenticationFailures} ` +
    `authentication failure(s), ${counts.policyChanges} policy change(s). The audit store's verification ` +
    `${summary.verification.ok ? 'found no problem' : `found ${summary.verification.problems.length} problem(s)`}.`
  );
}

/** Whether a control's evidence is the integrity verification (a test rather than an examination). */
function isVerification(status: ControlStatus): boolean {
  return (
    status.control === 'AU-9' || status.control === 'AU-10' || status.evidence.includes('verification.json')
  );
}

function controlObservation(
  input: OscalInput,
  seed: string,
  status: ControlStatus,
  origin: OscalOrigin,
): OscalObservation {
  const files = status.evidence.length > 0 ? status.evidence.join(', ') : 'no package file';
  const facts = controlFacts(status.control, input);
  const evidence = status.evidence.map(
    (packagePath): OscalRelevantEvidence => ({
      href: packageHref(ASSESSMENT_RESULTS_PATH, packagePath),
      description: packageFileDescription(packagePath),
      props: [gatehouseProp('package-path', packagePath)],
    }),
  );
  return {
    uuid: oscalUuid(seed, 'observation', status.control),
    title: `${status.control} ${status.title}: evidence of the period`,
    description: [
      `Gatehouse ${isVerification(status) ? 'tested' : 'examined'} ${files} for ${status.control}.`,
      ...facts,
    ].join(' '),
    props: [gatehouseProp('control', status.control)],
    methods: [isVerification(status) ? 'TEST' : 'EXAMINE'],
    types: status.status === 'satisfied' ? ['control-objective'] : ['control-objective', 'finding'],
    origins: [origin],
    subjects: [{ 'subject-uuid': gatewayComponentUuid(seed), type: 'component' }],
    ...(evidence.length > 0 ? { 'relevant-evidence': evidence } : {}),
    collected: isoTimestamp(input.summary.generatedAt),
    remarks: status.reason,
  };
}

const STATE: Record<
  ControlStatus['status'],
  { state: 'satisfied' | 'not-satisfied'; reason: 'pass' | 'fail' | 'other' }
> = {
  satisfied: { state: 'satisfied', reason: 'pass' },
  'not-satisfied': { state: 'not-satisfied', reason: 'fail' },
  'satisfied-with-findings': { state: 'satisfied', reason: 'other' },
};

function controlFinding(
  seed: string,
  status: ControlStatus,
  origin: OscalOrigin,
  observation: OscalObservation,
  risk: OscalRisk | undefined,
): OscalFinding {
  const { state, reason } = STATE[status.status];
  const withFindings = status.status === 'satisfied-with-findings';
  return {
    uuid: oscalUuid(seed, 'finding', status.control),
    title: `${status.control} ${status.title}`,
    description: status.reason,
    props: [gatehouseProp('control', status.control), gatehouseProp('control-status', status.status)],
    origins: [origin],
    target: {
      type: 'objective-id',
      'target-id': `${oscalControlId(status.control)}_obj`,
      title: `${status.control} ${status.title}: assessment objective`,
      status: {
        state,
        reason,
        ...(withFindings ? { remarks: `Satisfied with findings to review: ${status.reason}` } : {}),
      },
    },
    'implementation-statement-uuid': implementationStatementUuid(seed, status.control),
    'related-observations': [{ 'observation-uuid': observation.uuid }],
    ...(risk ? { 'related-risks': [{ 'risk-uuid': risk.uuid }] } : {}),
    ...(withFindings
      ? {
          remarks:
            'OSCAL has no "satisfied with findings" state: the control is satisfied, and what is to be reviewed ' +
            'is in the related observation (typed finding).',
        }
      : {}),
  };
}

/** What a control that is not satisfied exposes the system to. */
const RISK_STATEMENTS: Record<ControlId, string> = {
  'AC-2':
    'Machine identities may hold or use database access that the account management of the policy does not ' +
    'account for, so access may outlive its purpose or go unreviewed.',
  'AC-6':
    'Identities may hold more database access than their function needs, so a compromised workload reaches ' +
    'more data than necessary.',
  'AU-2':
    'Events that the organisation requires to be logged may be missing, leaving database access unaccounted for.',
  'AU-3':
    'Audit records may lack what establishes what happened, when, by whom and with what outcome, so incidents ' +
    'cannot be reconstructed.',
  'AU-9':
    'The audit trail may have been altered, removed or inserted without authorisation. Records of the period ' +
    'cannot be relied upon as evidence until the discrepancies are explained.',
  'AU-10':
    'Actions recorded in the audit trail may be repudiated, because the integrity and origin of the records ' +
    'cannot be proven.',
  'AU-12': 'Audit records may not be generated for every session and statement through the gateway.',
  'CM-3':
    'Changes to the access policy or to data may have been made without the required review and approval.',
  'CM-5':
    'Changes may have been made by identities not authorised to make them, or without the required approvals.',
  'IA-2':
    'Identities may not be uniquely identified and authenticated before access, or authentication failures may ' +
    'indicate attempts to use stolen or forged tokens.',
  'IA-5':
    'Authenticators (tokens and their signing keys) may not be managed so that only valid ones are accepted.',
  'SC-28':
    'Sensitive data may be disclosed in results or at rest without the protection the policy requires.',
};

function controlRisk(
  input: OscalInput,
  seed: string,
  status: ControlStatus,
  origin: OscalOrigin,
  observation: OscalObservation,
): OscalRisk {
  const problems = isVerification(status) ? input.summary.verification.problems : [];
  const description =
    problems.length === 0
      ? status.reason
      : `${status.reason}\n\nProblems found by the verification of the audit store:\n\n${problems
          .map((problem) => `- ${verificationProblem(problem)}`)
          .join('\n')}`;
  return {
    uuid: oscalUuid(seed, 'risk', status.control),
    title: `${status.control} ${status.title} not satisfied`,
    description,
    statement: RISK_STATEMENTS[status.control] ?? `${status.control} is not satisfied: ${status.reason}`,
    props: [
      gatehouseProp('control', status.control),
      ...problems.map((problem) =>
        gatehouseProp('verification-problem', problem.kind, verificationProblem(problem)),
      ),
    ],
    status: 'open',
    origins: [origin],
    'related-observations': [{ 'observation-uuid': observation.uuid }],
  };
}

function verificationProblem(problem: VerificationSummary['problems'][number]): string {
  const where =
    problem.session === undefined
      ? `writer ${problem.writer}`
      : `writer ${problem.writer}, session ${problem.session}`;
  return `${problem.kind} (${where}): ${problem.detail}`;
}

/** What the data of the period shows for a control, for its observation. */
function controlFacts(control: ControlId, { summary, scopes, inventory }: OscalInput): string[] {
  const { counts, verification } = summary;
  switch (control) {
    case 'AC-2': {
      const gone = inventory.identities.filter((identity) => !identity.admittedNow);
      const unused = inventory.identityRules.filter((rule) => rule.unused);
      return [
        `${inventory.identities.length} identity(ies) seen under ${inventory.identityRules.length} identity rule(s).`,
        gone.length === 0
          ? 'Every identity seen is still admitted by the policy in force at the end of the period.'
          : `Seen but no longer admitted: ${gone.map((identity) => `${identity.subject} (${identity.issuer})`).join('; ')}.`,
        unused.length === 0
          ? 'Every identity rule admitted an identity.'
          : `Identity rules that admitted nobody: ${unused.map((rule) => rule.name).join(', ')}.`,
      ];
    }
    case 'AC-6': {
      const readOnly = scopes.filter((scope) => scope.readOnly).length;
      return [
        `${scopes.length} grant(s) with their effective scope (${readOnly} read-only); ${counts.refusals} ` +
          `statement(s) refused of ${counts.statements}.`,
      ];
    }
    case 'AU-2':
    case 'AU-3':
    case 'AU-12':
      return [
        `${counts.sessions} session(s) and ${counts.statements} statement(s) recorded; ${verification.records} ` +
          `audit record(s) in the store for the period from ${verification.writers} writer(s).`,
      ];
    case 'AU-9':
    case 'AU-10':
      return [
        `Verification of ${verification.records} record(s) in ${verification.chunks} chunk(s) of ` +
          `${verification.sessions} session(s) from ${verification.writers} writer(s), against ` +
          `${verification.digests} signed digest(s): ${verification.ok ? 'no problem' : `${verification.problems.length} problem(s)`}.`,
        ...verification.problems.map((problem) => `${verificationProblem(problem)}.`),
      ];
    case 'CM-3':
    case 'CM-5': {
      const a = counts.approvals;
      return [
        `${counts.policyChanges} policy change(s); ${a.requested} approval(s) requested: ${a.approved} approved, ` +
          `${a.denied} denied, ${a.timedOut} timed out, ${a.cancelled} cancelled.`,
      ];
    }
    case 'IA-2':
    case 'IA-5': {
      const failing = inventory.identities.filter((identity) => identity.authenticationFailures > 0);
      return [
        `${counts.authenticationFailures} session(s) refused at authentication` +
          (failing.length === 0
            ? '.'
            : `; identities with failures: ${failing
                .map((identity) => `${identity.subject} (${identity.authenticationFailures})`)
                .join('; ')}.`),
      ];
    }
    case 'SC-28':
      return [`${counts.maskedStatements} statement(s) whose results were masked or withheld.`];
  }
}
