import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { permissivePolicy } from '../../local/permissive-policy';
import { testHome } from './environment';

/** The policy most integration tests run under; tests of the policy itself write their own. */
export const EVERYTHING_POLICY = permissivePolicy();

let counter = 0;

/** Writes a policy file under the suite's home and returns its path. */
export function writeTestPolicy(source: string, name = `policy-${process.pid}-${counter++}.yaml`): string {
  const file = path.join(testHome(), name);
  writeFileSync(file, source);
  return file;
}

/** The EVERYTHING_POLICY file global-setup writes. */
export function everythingPolicyFile(): string {
  return path.join(testHome(), 'policy-everything.yaml');
}
