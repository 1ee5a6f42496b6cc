import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { loadDeploymentConfig } from '../infra/config/deployment-config';
import { GatehouseStack } from '../infra/stacks/gatehouse-stack';

/**
 * The CDK app: reads the deployment configuration (`-c config=FILE`, by default the example), builds
 * the stack, and registers cdk-nag's NIST 800-53 rev 5 and AWS Solutions packs, so that any finding
 * not acknowledged in code fails synth.
 */
const app = new App();
const file = (app.node.tryGetContext('config') as string | undefined) ?? 'deploy/gatehouse.example.json';
const config = loadDeploymentConfig(path.resolve(file));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
new GatehouseStack(app, config.stackName, {
  config,
  ...(config.env.account || config.env.region ? { env: config.env } : {}),
  description: 'Gatehouse: an access gateway for machine identities in front of PostgreSQL',
});
