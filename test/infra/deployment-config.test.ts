import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DeploymentConfigError,
  loadDeploymentConfig,
  parseDeploymentConfig,
} from '../../infra/config/deployment-config';

const EXAMPLE = path.join(__dirname, '..', '..', 'deploy', 'gatehouse.example.json');

function problems(change: (config: Record<string, unknown>) => void): string {
  const config = JSON.parse(JSON.stringify(require(EXAMPLE))) as Record<string, unknown>;
  change(config);
  try {
    parseDeploymentConfig(config, '/tmp');
  } catch (error) {
    expect(error).toBeInstanceOf(DeploymentConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('the deployment configuration', () => {
  it('reads the example with its defaults, paths relative to the file', () => {
    const config = loadDeploymentConfig(EXAMPLE);
    expect(config.directory).toBe(path.dirname(EXAMPLE));
    expect(config.sizing.minTasks).toBe(2);
    expect(config.retention.objectLockMode).toBe('compliance');
    expect(config.upstream.tls).toBe('verify-full');
  });

  it('names the field that is wrong, and what was expected', () => {
    expect(
      problems((c) => ((c.upstream as Record<string, unknown>).credentialsSecretArn = 'my-secret')),
    ).toContain('upstream.credentialsSecretArn: expected an ARN');
    expect(problems((c) => ((c.sizing as Record<string, unknown>).minTasks = 1))).toContain(
      'sizing.minTasks: at least two tasks',
    );
    expect(problems((c) => ((c.sizing as Record<string, unknown>).maxTasks = 12))).toContain(
      'sizing.maxTasks: at most 8 tasks',
    );
    expect(problems((c) => ((c.upstream as Record<string, unknown>).caBundleFile = undefined))).toContain(
      'upstream.caBundleFile: verify-full needs caBundleFile',
    );
    expect(
      problems(
        (c) =>
          (c.vpc = {
            kind: 'existing',
            vpcId: 'vpc-0abc',
            cidr: '10.0.0.0/16',
            availabilityZones: ['a'],
            privateSubnetIds: ['subnet-1'],
          }),
      ),
    ).toContain('vpc.availabilityZones: at least two availability zones');
    expect(problems((c) => (c.approvals = {}))).toContain('approvals: approvals need slack or email');
    expect(problems((c) => (c.surprise = true))).toContain("Unrecognized key(s) in object: 'surprise'");
  });

  it('says which file could not be read', () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-deploy-'));
    const file = path.join(directory, 'broken.json');
    writeFileSync(file, '{ "stackName": ');
    expect(() => loadDeploymentConfig(file)).toThrow(`cannot read the deployment configuration ${file}`);
  });
});
