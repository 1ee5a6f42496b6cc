import type { EvidenceRenderers } from './build-evidence';
import { assessmentResults } from './oscal-assessment-results';
import { systemSecurityPlan } from './oscal-ssp';
import { evidenceReport } from './report-html';

/** The OSCAL documents and the HTML report of a package, the same for the CLI and the export function. */
export const evidenceRenderers: EvidenceRenderers = {
  assessmentResults,
  systemSecurityPlan,
  evidenceReport: (input) => evidenceReport(input),
};
