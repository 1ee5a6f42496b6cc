import {
  type CloudWatchLogsClient,
  CreateLogStreamCommand,
  type InputLogEvent,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { Logger } from '../observability/logger';

export interface CloudWatchLogShipperOptions {
  client: CloudWatchLogsClient;
  logGroup: string;
  /** One stream per writer. */
  logStream: string;
  /** Events wait at most this long before they are sent. */
  intervalMs: number;
  /** Bytes held while CloudWatch is unreachable; past it the oldest are dropped, counted and logged. */
  maxBufferedBytes: number;
  log: Logger;
  onDropped?: (events: number) => void;
}

/** PutLogEvents limits: 10,000 events and 1,048,576 bytes (each event counts 26 bytes more). */
const MAX_EVENTS = 10_000;
const MAX_BATCH_BYTES = 1_000_000;
const EVENT_OVERHEAD = 26;

/**
 * Audit records also go to CloudWatch Logs as JSON lines, one event each, so any SIEM can subscribe.
 * This copy is for watching, not evidence (the S3 store is): when CloudWatch is unreachable, events
 * wait in a bounded buffer and are retried; past the bound the oldest are dropped, and counted.
 */
export class CloudWatchLogShipper {
  private buffer: InputLogEvent[] = [];
  private bufferedBytes = 0;
  private streamReady = false;
  private sending: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: CloudWatchLogShipperOptions) {
    this.timer = setInterval(() => void this.send(), options.intervalMs);
    this.timer.unref();
  }

  /** Lines as the spool got them (newline-separated JSON records). */
  add(lines: string): void {
    const timestamp = Date.now();
    for (const line of lines.split('\n')) {
      if (line === '') continue;
      this.buffer.push({ timestamp, message: line });
      this.bufferedBytes += line.length + EVENT_OVERHEAD;
    }
    let dropped = 0;
    while (this.bufferedBytes > this.options.maxBufferedBytes && this.buffer.length > 0) {
      const oldest = this.buffer.shift()!;
      this.bufferedBytes -= oldest.message!.length + EVENT_OVERHEAD;
      dropped++;
    }
    if (dropped > 0) {
      this.options.log.warn('CloudWatch Logs unreachable; oldest audit events dropped from its copy', {
        dropped,
      });
      this.options.onDropped?.(dropped);
    }
  }

  /** Sends what is buffered, in batches within PutLogEvents' limits; on failure keeps it for later. */
  send(): Promise<void> {
    this.sending ??= this.sendAll().finally(() => {
      this.sending = undefined;
    });
    return this.sending;
  }

  private async sendAll(): Promise<void> {
    const { client, logGroup, logStream, log } = this.options;
    try {
      if (!this.streamReady) {
        await client
          .send(new CreateLogStreamCommand({ logGroupName: logGroup, logStreamName: logStream }))
          .catch((error: Error) => {
            if (error.name !== 'ResourceAlreadyExistsException') throw error;
          });
        this.streamReady = true;
      }
      while (this.buffer.length > 0) {
        let bytes = 0;
        let count = 0;
        while (count < this.buffer.length && count < MAX_EVENTS) {
          const size = this.buffer[count]!.message!.length + EVENT_OVERHEAD;
          if (bytes + size > MAX_BATCH_BYTES && count > 0) break;
          bytes += size;
          count++;
        }
        const batch = this.buffer.slice(0, count);
        await client.send(
          new PutLogEventsCommand({ logGroupName: logGroup, logStreamName: logStream, logEvents: batch }),
        );
        this.buffer.splice(0, count);
        this.bufferedBytes -= bytes;
      }
    } catch (error) {
      log.warn('CloudWatch Logs unreachable; audit events kept for the next attempt', { error });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.send();
  }
}
