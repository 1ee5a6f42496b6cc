import type { VerificationReport } from '../audit/verify';
import { controlMap, PACKAGE_FILES } from './control-map';
import { effectiveScopes } from './effective-scopes';
import { analyseEvidence, type EvidenceAnalysis } from './evidence-analysis';
import {
  type EffectiveScope,
  EVIDENCE_PACKAGE_VERSION,
  type EvidencePeriod,
  type EvidenceSummary,
  type IdentityActivity,
  type IdentityRuleUsage,
} from './evidence-package';
import type { EvidencePolicy } from './evidence-policy';
import {
  periodVerification,
  type VerificationFile,
  verificationFile,
  verificationSummary,
} from './period-verification';
import type { StoredDigest, StoredRecord } from './stored-records';

/** What the OSCAL documents and the HTML report are rendered from. */
export interface EvidenceRenderInput {
  readonly summary: EvidenceSummary;
  readonly scopes: readonly EffectiveScope[];
  readonly inventory: {
    readonly identities: readonly IdentityActivity[];
    readonly identityRules: readonly IdentityRuleUsage[];
  };
}

/** The renderings of the package, injected (core/evidence/oscal-*.ts and report-html.ts by default). */
export interface EvidenceRenderers {
  assessmentResults(input: EvidenceRenderInput): unknown;
  systemSecurityPlan(input: EvidenceRenderInput): unknown;
  evidenceReport(input: EvidenceRenderInput): string;
}

export interface EvidenceBuildInput {
  readonly period: EvidencePeriod;
  /** ISO 8601. */
  readonly generatedAt: string;
  /** Every record of the store, in storage order (readStoredRecords). */
  readonly records: readonly StoredRecord[];
  /** The whole store's verification (verifyStore). */
  readonly verification: VerificationReport;
  readonly digests: readonly StoredDigest[];
  /** The policy in force at the end of the period. */
  readonly policy: EvidencePolicy;
  /** Issuer names of the gateway configuration (name → `iss`). */
  readonly issuers?: Readonly<Record<string, string>>;
  /** Where the store was read, for verification.json. */
  readonly store: string;
}

export interface EvidenceContents extends EvidenceRenderInput {
  readonly analysis: EvidenceAnalysis;
  readonly verificationFile: VerificationFile;
  readonly policySource: string;
}

/** Computes everything the package says, from the store's records, its verification and the policy. Pure. */
export function buildEvidence(input: EvidenceBuildInput): EvidenceContents {
  const analysis = analyseEvidence({
    period: input.period,
    records: input.records,
    policy: input.policy,
    issuers: input.issuers,
    asOf: Date.parse(input.generatedAt) * 1000,
  });
  const scopes = effectiveScopes(input.policy);
  const period = periodVerification(
    input.verification,
    input.digests,
    input.period,
    analysis.periodRecords,
    analysis.sessions,
  );
  const controls = controlMap({
    analysis,
    scopes,
    verification: input.verification,
    period,
    policyDigest: input.policy.compiled.digest,
  });
  const summary: EvidenceSummary = {
    version: EVIDENCE_PACKAGE_VERSION,
    period: input.period,
    generatedAt: input.generatedAt,
    policyDigests: analysis.policyDigests,
    counts: analysis.counts,
    identities: analysis.identities,
    identityRules: analysis.identityRules,
    timeline: analysis.timeline,
    verification: verificationSummary(input.verification),
    controls,
    policy: {
      digest: input.policy.compiled.digest,
      ...(analysis.policyInForceAtEnd !== undefined ? { inForceAtEnd: analysis.policyInForceAtEnd } : {}),
    },
    boundaries: analysis.boundaries,
  };
  return {
    summary,
    scopes,
    inventory: { identities: analysis.identities, identityRules: analysis.identityRules },
    analysis,
    verificationFile: verificationFile(input.store, input.generatedAt, input.verification, period),
    policySource: input.policy.source,
  };
}

/** One file of the package: its path (as the manifest names it) and its bytes. */
export interface PackageFile {
  readonly path: string;
  readonly content: Buffer;
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

function jsonl(values: readonly unknown[]): Buffer {
  return Buffer.from(values.map((value) => `${JSON.stringify(value)}\n`).join(''), 'utf8');
}

/**
 * The package's files other than the manifest, in the order they are written. Every file is there
 * even when empty (a .jsonl with no line), so every evidence path of the control map resolves.
 */
export function packageFiles(contents: EvidenceContents, renderers: EvidenceRenderers): PackageFile[] {
  const { summary, scopes, inventory, analysis } = contents;
  const render: EvidenceRenderInput = { summary, scopes, inventory };
  const period = summary.period;
  const policyDigest = summary.policy?.digest;
  return [
    {
      path: PACKAGE_FILES.records,
      content: Buffer.from(analysis.periodRecords.map((stored) => `${stored.line}\n`).join(''), 'utf8'),
    },
    {
      path: PACKAGE_FILES.inventory,
      content: json({ period, policyDigest, issuerNames: analysis.issuerNames, ...inventory }),
    },
    { path: PACKAGE_FILES.scopes, content: json({ period, policyDigest, scopes }) },
    { path: PACKAGE_FILES.approvals, content: jsonl(analysis.approvals) },
    { path: PACKAGE_FILES.masking, content: jsonl(analysis.masking) },
    { path: PACKAGE_FILES.authenticationFailures, content: jsonl(analysis.authenticationFailures) },
    { path: PACKAGE_FILES.policyChanges, content: jsonl(analysis.policyChanges) },
    { path: PACKAGE_FILES.verification, content: json(contents.verificationFile) },
    { path: PACKAGE_FILES.policy, content: Buffer.from(contents.policySource, 'utf8') },
    { path: PACKAGE_FILES.controls, content: json({ period, controls: summary.controls }) },
    { path: PACKAGE_FILES.summary, content: json(summary) },
    { path: PACKAGE_FILES.assessmentResults, content: json(renderers.assessmentResults(render)) },
    { path: PACKAGE_FILES.ssp, content: json(renderers.systemSecurityPlan(render)) },
    { path: PACKAGE_FILES.report, content: Buffer.from(renderers.evidenceReport(render), 'utf8') },
  ];
}
