import { parseDocument } from 'yaml';
import type { CompiledPolicy } from '../policy/compiled-policy';
import { loadPolicy, PolicyError } from '../policy/load-policy';
import { type PolicyDocument, policySchema } from '../policy/schema';

/**
 * The policy an export renders: compiled (to match identities exactly as the gateway does) and as
 * written (globs, claims and limits are shown as the file states them; compiling keeps only matchers).
 */
export interface EvidencePolicy {
  readonly compiled: CompiledPolicy;
  readonly document: PolicyDocument;
  /** The file's text, as read: the package carries it as policy.yaml. */
  readonly source: string;
}

/** Loads a policy file's text for an export; an invalid policy is a PolicyError naming every problem. */
export function evidencePolicy(source: string, file = 'policy'): EvidencePolicy {
  const loaded = loadPolicy(source);
  if (!loaded.ok) throw new PolicyError(file, loaded.problems);
  // loadPolicy accepted it, so the schema does too; parsed again to keep what the file says.
  const document = policySchema.parse(parseDocument(source).toJS() ?? {});
  return { compiled: loaded.policy, document, source };
}
