import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  PutLogEventsCommand,
  ResourceAlreadyExistsException,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchLogShipper } from '../../../fargate-proxy/src/audit/cloudwatch-log-shipper';
import { silentLogger } from '../../../fargate-proxy/src/observability/logger';

function shipper(maxBufferedBytes = 1024 * 1024, dropped: number[] = []) {
  return new CloudWatchLogShipper({
    client: new CloudWatchLogsClient({ region: 'eu-west-1' }),
    logGroup: '/gatehouse/audit',
    logStream: 'i-1-w0',
    intervalMs: 60_000,
    maxBufferedBytes,
    log: silentLogger,
    onDropped: (n) => dropped.push(n),
  });
}

describe('the CloudWatch Logs copy of the audit (mocked client: no emulator)', () => {
  afterEach(() => mockClient(CloudWatchLogsClient).restore());

  it('sends each record as one event to the writer’s stream, creating the stream once', async () => {
    const logs = mockClient(CloudWatchLogsClient);
    logs
      .on(CreateLogStreamCommand)
      .rejects(new ResourceAlreadyExistsException({ message: 'exists', $metadata: {} }));
    logs.on(PutLogEventsCommand).resolves({});
    const copy = shipper();
    copy.add('{"type":"statement","seq":0}\n{"type":"statement","seq":1}\n');
    await copy.send();
    copy.add('{"type":"session-end","seq":2}\n');
    await copy.close();
    expect(logs.commandCalls(CreateLogStreamCommand)).toHaveLength(1);
    const batches = logs.commandCalls(PutLogEventsCommand).map((call) => call.args[0].input);
    expect(batches.map((b) => [b.logGroupName, b.logStreamName])).toEqual([
      ['/gatehouse/audit', 'i-1-w0'],
      ['/gatehouse/audit', 'i-1-w0'],
    ]);
    expect(batches.flatMap((b) => b.logEvents!.map((e) => JSON.parse(e.message!).seq))).toEqual([0, 1, 2]);
  });

  it('keeps events while CloudWatch fails and sends them once it answers; past its bound it drops the oldest, counted', async () => {
    const logs = mockClient(CloudWatchLogsClient);
    logs.on(CreateLogStreamCommand).resolves({});
    logs.on(PutLogEventsCommand).rejectsOnce(new Error('throttled')).resolves({});
    const copy = shipper();
    copy.add('{"seq":0}\n');
    await copy.send();
    await copy.send();
    const sent = logs.commandCalls(PutLogEventsCommand).map((c) => c.args[0].input.logEvents!.length);
    expect(sent).toEqual([1, 1]);

    const dropped: number[] = [];
    const small = shipper(1024 * 1024, dropped);
    logs.on(PutLogEventsCommand).rejects(new Error('unreachable'));
    const line = `{"pad":"${'x'.repeat(1000)}"}\n`;
    for (let i = 0; i < 1100; i++) small.add(line);
    expect(dropped.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    await small.close();
  });
});
