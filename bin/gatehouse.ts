#!/usr/bin/env node
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../core/duration';
import { VERSION } from '../core/version';
import { loadGatewayConfigFromEnv } from '../fargate-proxy/src/config';
import { createLogger, type LogLevel } from '../fargate-proxy/src/observability/logger';
import { startGateway } from '../fargate-proxy/src/server/primary';
import { openLocalIssuer } from '../local/token-issuer';

const USAGE = `gatehouse ${VERSION}

Usage:
  gatehouse local [--port 6432] [--host 127.0.0.1] [--upstream postgres://…] [--workers N]
                  [--health-port 6480] [--replay-port 6490] [--approvals-port 6491] [--home .gatehouse] [--policy FILE] [--log-level info]
      Runs the gateway on this machine in front of an embedded PostgreSQL with a demo database
      (or in front of --upstream), with a local token issuer. The policy is --policy, or
      <home>/policy.yaml (created from the demo policy on first start); edits are reloaded live.
  gatehouse token --sub NAME [--claim key=value]… [--ttl 15m] [--home .gatehouse]
      Prints a token of the local issuer, to use as the password.
  gatehouse serve
      Runs the gateway from the JSON configuration named by GATEHOUSE_CONFIG_FILE (what a container runs).
  gatehouse policy check FILE
      Validates a policy file; problems are printed as FILE:LINE:COLUMN.
  gatehouse policy explain FILE --issuer ISSUER --claims '{"sub":"…"}' --database DB --sql "…" [--json]
      Prints the decision for one statement, the grant and rule that made it, and the analysis.
      Exit code 0 when allowed, 3 when not.
  gatehouse policy test FILE
      Runs the test cases in the policy file's \`tests\` section.
  gatehouse verify [--store DIR | --s3 BUCKET[/PREFIX]] [--table TABLE] [--public-key FILE] [--home .gatehouse] [--json]
      Verifies an audit store offline: every record, chunk and signed digest. Exit code 1 when
      anything was changed, removed, reordered or inserted.
  gatehouse export --from DATE --to DATE --out DIR [--home .gatehouse | --store DIR | --s3 BUCKET[/PREFIX] [--table TABLE] [--region R]]
                   [--policy FILE] [--issuer NAME=ISS]… [--public-key FILE] [--signing-key FILE | --kms-key-id ID] [--force] [--progress]
      Writes the NIST evidence package of the period [--from, --to) (a date is midnight UTC; --to is
      exclusive): inventory, scopes, the period's audit records, approvals, masking, authentication
      failures, policy changes, the store's verification, the control map, OSCAL and an HTML report,
      with a manifest of SHA-256 hashes signed like the audit digests. The store is verified whole.
      The policy (default <home>/policy.yaml) should be the one in force at the end of the period.
      Exit code 0 when the package was written, whatever the controls' statuses.
  gatehouse export --check DIR [--public-key FILE | --home .gatehouse]
      Checks a package: the manifest's signature and every file's SHA-256. Exit code 1 when not verified.
  gatehouse approvals list | (approve | deny) REQUEST --as APPROVER [--home .gatehouse | --directory DIR]
      Statements that need approval (non-interactive: the client runs them again once approved).
  gatehouse sessions list [--home .gatehouse | --directory DIR | --table TABLE [--region R]] [--json]
      Lists the live sessions of every gateway process that publishes to the session registry.
  gatehouse sessions kill (--session ID | --subject SUBJECT [--issuer ISSUER]) [--by NAME] [--wait 10]
      Ends sessions wherever they run (within seconds); each one's audit trail records who asked.
  gatehouse replay [SESSION] [--store DIR] [--home .gatehouse] [--speed N] [--json]
      Prints a recorded session as it happened (SESSION: its id or a unique prefix); --speed 1
      replays at real speed. Without SESSION, lists the recorded sessions.
`;

function fail(message: string): never {
  process.stderr.write(`gatehouse: ${message}\n`);
  process.exit(2);
}

function onStopSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal} received: draining sessions and stopping…\n`);
    stop().then(
      () => process.exit(0),
      (error) => fail(`stop failed: ${(error as Error).message}`),
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function local(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '6432' },
      host: { type: 'string', default: '127.0.0.1' },
      upstream: { type: 'string' },
      workers: { type: 'string', default: '2' },
      'health-port': { type: 'string', default: '6480' },
      'replay-port': { type: 'string', default: '6490' },
      'approvals-port': { type: 'string', default: '6491' },
      home: { type: 'string', default: '.gatehouse' },
      'log-level': { type: 'string', default: 'info' },
      'pg-setting': { type: 'string', multiple: true, default: [] },
      policy: { type: 'string' },
    },
  });
  const home = path.resolve(values.home);
  const logLevel = values['log-level'] as LogLevel;
  const log = createLogger(logLevel, { component: 'local' });
  const postgresSettings: Record<string, string> = {};
  for (const setting of values['pg-setting']) {
    const eq = setting.indexOf('=');
    if (eq < 1) fail(`--pg-setting expects name=value, got "${setting}"`);
    postgresSettings[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  // Loaded only here: local mode pulls in certificate generation and the demo seed, which `serve` never needs.
  const { startLocalMode } = await import('../local/local-mode.js');
  const mode = await startLocalMode({
    home,
    host: values.host,
    port: Number(values.port),
    healthPort: Number(values['health-port']),
    replayPort: Number(values['replay-port']),
    approvalsPort: Number(values['approvals-port']),
    workers: Number(values.workers),
    upstreamUrl: values.upstream,
    postgresSettings,
    policyFile: values.policy && path.resolve(values.policy),
    logLevel,
    log,
  });
  onStopSignals(mode.stop);
  const token = mode.issuer.sign({ sub: 'demo-ci', repository: 'example/demo' }, 12 * 3600);
  const host = values.host === '0.0.0.0' ? '127.0.0.1' : values.host;
  const cli = path.relative(process.cwd(), path.join(__dirname, 'gatehouse.js')) || 'dist/bin/gatehouse.js';
  const homeFlag = values.home === '.gatehouse' ? '' : ` --home ${home}`;
  process.stdout.write(
    [
      '',
      `Gatehouse ${VERSION}: local mode`,
      `  upstream  ${mode.postgres ? `embedded PostgreSQL on ${mode.postgres.host}:${mode.postgres.port} (data in ${mode.postgres.dataDir})` : values.upstream?.replace(/\/\/[^@]*@/, '//…@')}`,
      `  gateway   ${host}:${mode.gateway.port}, TLS certificate ${mode.certFile}`,
      `  health    http://127.0.0.1:${mode.gateway.healthPort}/readyz   metrics: /metrics`,
      `  sessions  ${mode.recordingsUrl}   (recordings; this address carries a per-run secret)`,
      `  approvals ${mode.approvalsUrl}   (approve or deny held statements; per-run secret too)`,
      '',
      'Connect (this token is valid for 12 hours):',
      `  PGPASSWORD='${token}' psql "host=${host} port=${mode.gateway.port} dbname=${mode.database} user=demo-ci sslmode=require"`,
      '',
      'Or mint a fresh token for any identity:',
      `  PGPASSWORD="$(node ${cli} token${homeFlag} --sub my-job)" psql "host=${host} port=${mode.gateway.port} dbname=${mode.database} user=my-job sslmode=require"`,
      '',
      'Ctrl-C stops the gateway and the database.',
      '',
    ].join('\n'),
  );
}

function token(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      sub: { type: 'string' },
      claim: { type: 'string', multiple: true, default: [] },
      ttl: { type: 'string', default: '15m' },
      home: { type: 'string', default: '.gatehouse' },
    },
  });
  if (!values.sub) fail('token needs --sub NAME');
  const claims: Record<string, unknown> = { sub: values.sub };
  for (const claim of values.claim) {
    const eq = claim.indexOf('=');
    if (eq < 1) fail(`--claim expects key=value, got "${claim}"`);
    claims[claim.slice(0, eq)] = claim.slice(eq + 1);
  }
  const issuer = openLocalIssuer(path.join(path.resolve(values.home), 'issuer'));
  const ttlSeconds = Math.max(1, Math.round(parseDuration(values.ttl) / 1000));
  process.stdout.write(`${issuer.sign({ ...claims, sub: values.sub }, ttlSeconds)}\n`);
}

async function serve(): Promise<void> {
  const config = loadGatewayConfigFromEnv();
  const log = createLogger(config.logLevel, { component: 'gateway' });
  log.info(`Gatehouse ${VERSION} starting`);
  // Signals are handled from the start: a SIGTERM during startup still drains and stops cleanly.
  const starting = startGateway(config, { log });
  onStopSignals(async () => (await starting).stop());
  await starting;
}

/** Runs a subcommand that writes to stdout; its usage errors end the process with code 2. */
async function runCommand(
  command: (argv: string[], write: (text: string) => void) => Promise<number>,
  usageError: new (...args: never[]) => Error,
  argv: string[],
): Promise<void> {
  try {
    process.exitCode = await command(argv, (text) => process.stdout.write(text));
  } catch (error) {
    if (error instanceof usageError) fail(error.message);
    throw error;
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'local':
      return local(rest);
    case 'token':
      return token(rest);
    case 'serve':
      return serve();
    case 'verify': {
      const { verifyCommand } = await import('./verify-command.js');
      process.exitCode = await verifyCommand(rest, (text) => process.stdout.write(text));
      return;
    }
    case 'export': {
      const { exportCommand, ExportUsageError } = await import('./export-command.js');
      return runCommand(exportCommand, ExportUsageError, rest);
    }
    case 'sessions': {
      const { sessionsCommand, SessionsUsageError } = await import('./sessions-command.js');
      return runCommand(sessionsCommand, SessionsUsageError, rest);
    }
    case 'approvals': {
      const { approvalsCommand, ApprovalsUsageError } = await import('./approvals-command.js');
      return runCommand(approvalsCommand, ApprovalsUsageError, rest);
    }
    case 'replay': {
      const { replayCommand, ReplayUsageError } = await import('./replay-command.js');
      return runCommand(replayCommand, ReplayUsageError, rest);
    }
    case 'policy': {
      const { policyCommand, UsageError } = await import('./policy-command.js');
      return runCommand(policyCommand, UsageError, rest);
    }
    case '--version':
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return;
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main().catch((error) => fail((error as Error).message));
