import { hash } from 'node:crypto';
import type { RecordBody, StatementRecord } from '../../../core/audit/records';
import {
  formatName,
  STATEMENT_CLASSES,
  type StatementAnalysis,
  type StatementClass,
} from '../../../core/sql/analysis';
import { nowMicros } from '../observability/clock';
import { redact } from './redaction';

/** What the gate decided about a statement, as the audit records it. */
export interface AuditedDecision {
  decision: StatementRecord['decision'];
  rule?: string;
  /** The analysed statements of the text (one per statement of a multi-statement Query). */
  statements?: readonly StatementAnalysis[];
  /**
   * The statement reads a relation with masked columns: its literals and parameters may be masked
   * values, so the record keeps neither (the text loses its literals, parameters their hashes).
   */
  withholdLiterals?: boolean;
  /** The approval request the statement ran under, or was refused pending, and who approved it. */
  approval?: { id: string; by?: readonly string[] };
  /** A refused multi-statement Query: the index of the statement the refusal is about. */
  cause?: number;
}

/**
 * A statement text whose SHA-256 is computed when a record first needs it: statements of classes the
 * grant does not audit never pay for it.
 */
class HashedText {
  private digest: string | undefined;
  constructor(readonly text: string) {}
  get sha256(): string {
    this.digest ??= sha256(this.text);
    return this.digest;
  }
}

class Prepared extends HashedText {
  constructor(
    text: string,
    readonly decided: AuditedDecision,
  ) {
    super(text);
  }
}

interface Execution {
  protocol: 'simple' | 'extended';
  /** A statement of a multi-statement Query: its place, and whether the Query was refused whole. */
  part?: { index: number; of: number; refusedWhole: boolean };
  text: string;
  /** The exact text the client sent (all of a multi-statement Query): the record's `textSha256`. */
  sent: HashedText;
  analysis?: StatementAnalysis;
  decided: AuditedDecision;
  parameters?: StatementRecord['parameters'];
  /** Extended protocol: the Sync the execution belongs to; simple: the Query's own number. */
  batch: number;
  start: number;
  bytesIn: number;
}

/**
 * An execution the server has ended, waiting for its result to pass on to the client; `together`:
 * the other statements of a multi-statement Query refused whole (one error ends them all).
 */
interface Ended {
  execution: Execution;
  together?: Execution[];
  outcome: StatementRecord['outcome'];
  end: number;
  masking?: StatementRecord['masking'];
}

export function sha256(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

const ALL_CLASSES: ReadonlySet<StatementClass> = new Set(STATEMENT_CLASSES);

/** Relation names as the records spell them, once per analysis (analyses are cached and shared). */
const spelledNames = new WeakMap<StatementAnalysis, { reads: string[]; writes: string[] }>();

function namesOf(analysis: StatementAnalysis): { reads: string[]; writes: string[] } {
  let names = spelledNames.get(analysis);
  if (!names) {
    names = { reads: analysis.reads.map(formatName), writes: analysis.writes.map(formatName) };
    spelledNames.set(analysis, names);
  }
  return names;
}

/** Rows from a command tag: `SELECT 5`, `INSERT 0 5`, `UPDATE 5`, `COPY 5`, `FETCH 5`… */
function rowsOf(tag: string): number | undefined {
  const match = /\s(\d+)$/.exec(tag);
  return match ? Number(match[1]) : undefined;
}

/**
 * Joins what a session's client sends (Query; Parse, Bind, Execute, Sync) with what the server answers
 * (CommandComplete, EmptyQueryResponse, PortalSuspended, ErrorResponse, ReadyForQuery) into one audit
 * record per executed statement, in order. Executions the server skipped after an error (the rest of a
 * batch) never ran and get no record.
 */
export class StatementTracker {
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<
    string,
    { prepared: Prepared; parameters: StatementRecord['parameters']; arrived?: number }
  >();
  private readonly queue: Execution[] = [];
  private readonly ended: (Ended | null)[] = [];
  /**
   * Batches are what one ReadyForQuery closes: a Query, or the extended-protocol messages up to a
   * Sync. `pendingBatches` lists those sent and not yet closed, oldest first.
   */
  private nextBatch = 1;
  private openBatch: number | undefined;
  private readonly pendingBatches: number[] = [];
  bytesIn = 0;
  bytesOut = 0;
  executed = 0;

  /** Whether the server owes this session a ReadyForQuery: a result may arrive at any moment. */
  get awaitingServer(): boolean {
    return this.pendingBatches.length > 0;
  }

  /**
   * `audited`: the statement classes whose executions get a record (the grant's choice); refused
   * statements and those without an analysis always get one.
   */
  constructor(
    private readonly emit: (record: RecordBody<StatementRecord>) => void,
    private readonly audited: ReadonlySet<StatementClass> = ALL_CLASSES,
  ) {}

  /** `arrived`: when the Query reached the gateway (it may have waited there, for an approval). */
  query(text: string, decided: AuditedDecision, bytes: number, arrived = nowMicros()): void {
    const sent = new HashedText(text);
    const batch = this.nextBatch++;
    this.pendingBatches.push(batch);
    const analysed = decided.statements?.length ? decided.statements : [undefined];
    const refusedWhole = decided.decision !== 'allowed' && decided.decision !== 'approved';
    for (let index = 0; index < analysed.length; index++) {
      const analysis = analysed[index];
      this.queue.push({
        protocol: 'simple',
        part: analysed.length > 1 ? { index, of: analysed.length, refusedWhole } : undefined,
        text: analysed.length > 1 && analysis ? analysis.text : text,
        sent,
        analysis,
        decided,
        batch,
        start: arrived,
        bytesIn: bytes,
      });
    }
  }

  parse(name: string, text: string, decided: AuditedDecision): void {
    this.statements.set(name, new Prepared(text, decided));
  }

  /** A prepared statement as parsed (for a strict record at its Bind). */
  prepared(name: string): { text: string; sha256: string; decided: AuditedDecision } | undefined {
    return this.statements.get(name);
  }

  /**
   * `decided`: the execution's own decision when its Bind was decided (parameters, an approval, a
   * refusal), else the prepared statement's applies; `arrived`: when the Bind reached the gateway.
   */
  bind(
    portal: string,
    statement: string,
    parameterFormats: number[],
    parameters: (Buffer | null)[],
    decided?: AuditedDecision,
    arrived?: number,
  ): void {
    const prepared = this.statements.get(statement);
    if (!prepared) return;
    const own = decided;
    decided ??= prepared.decided;
    const analysis = decided.statements?.[0];
    // Parameters are hashed only for executions that will have a record.
    const recorded =
      (decided.decision !== 'allowed' || !analysis || this.audited.has(analysis.class)) &&
      !decided.withholdLiterals;
    this.portals.set(portal, {
      arrived,
      prepared: own ? new Prepared(prepared.text, own) : prepared,
      parameters: recorded
        ? parameters.map((value, i) => ({
            format: parameterFormats[i] === 1 ? 'binary' : 'text',
            sha256: value === null ? null : sha256(value),
          }))
        : undefined,
    });
  }

  execute(portal: string, bytes: number): void {
    const bound = this.portals.get(portal);
    if (!bound) return;
    const { prepared } = bound;
    // The first execution of a portal started when its Bind arrived (it may have waited at the gateway).
    const start = bound.arrived ?? nowMicros();
    bound.arrived = undefined;
    this.queue.push({
      protocol: 'extended',
      text: prepared.text,
      sent: prepared,
      analysis: prepared.decided.statements?.[0],
      decided: prepared.decided,
      parameters: bound.parameters,
      batch: this.extendedBatch(),
      start,
      bytesIn: bytes,
    });
  }

  private extendedBatch(): number {
    this.openBatch ??= this.nextBatch++;
    return this.openBatch;
  }

  sync(): void {
    this.pendingBatches.push(this.extendedBatch());
    this.openBatch = undefined;
  }

  /** CommandComplete, EmptyQueryResponse or PortalSuspended ends the oldest execution. */
  completed(tag: string | undefined, suspended = false, masking?: StatementRecord['masking']): void {
    this.end(
      this.queue.shift(),
      { tag, rows: tag ? rowsOf(tag) : undefined, suspended: suspended || undefined },
      masking,
    );
  }

  /**
   * An error ends the oldest execution; the server skips the rest of its batch. A Query refused whole
   * ends with all of its statements: each gets a record naming the one the refusal is about.
   */
  failed(sqlstate: string, masking?: StatementRecord['masking']): void {
    const execution = this.queue.shift();
    if (!execution) {
      this.end(undefined, { sqlstate }, masking);
      return;
    }
    const together: Execution[] = [];
    while (this.queue.length > 0 && this.queue[0]!.batch === execution.batch) {
      const skipped = this.queue.shift()!;
      if (execution.part?.refusedWhole) together.push(skipped);
    }
    this.ended.push({ execution, together, outcome: { sqlstate }, end: nowMicros(), masking });
  }

  /**
   * Each message that ends a result (above) is noted in order, even when it ends no tracked execution,
   * so that `resultSent` pairs each such message the client receives with its execution.
   */
  private end(
    execution: Execution | undefined,
    outcome: StatementRecord['outcome'],
    masking?: StatementRecord['masking'],
  ): void {
    this.ended.push(execution ? { execution, outcome, end: nowMicros(), masking } : null);
  }

  /**
   * The message that ended the oldest result is on its way to the client, after `bytesOut` bytes of
   * that result: the execution's record is written now, before the client can read the outcome.
   */
  resultSent(bytesOut: number, recording?: StatementRecord['recording']): void {
    const ended = this.ended.shift();
    if (ended) this.record(ended, bytesOut, recording);
  }

  /** The session is over: executions whose end never reached the client are recorded as they are. */
  drain(): void {
    while (this.ended.length > 0) this.resultSent(0);
  }

  /** ReadyForQuery closes the oldest batch: whatever of it is still queued never ran. */
  ready(): void {
    const closed = this.pendingBatches.shift();
    if (closed === undefined) return;
    while (this.queue.length > 0 && this.queue[0]!.batch <= closed) this.queue.shift();
  }

  private record(ended: Ended, bytesOut: number, recording?: StatementRecord['recording']): void {
    this.recordOne(ended.execution, ended, bytesOut, recording);
    // The bytes of a Query refused whole are its one error: counted once.
    if (ended.together)
      for (const execution of ended.together) this.recordOne(execution, ended, 0, recording);
  }

  private recordOne(
    execution: Execution,
    { outcome, end, masking }: Ended,
    bytesOut: number,
    recording?: StatementRecord['recording'],
  ): void {
    this.executed++;
    const { analysis, decided, part } = execution;
    if (analysis && decided.decision === 'allowed' && !this.audited.has(analysis.class)) return;
    const shown = redact(execution.text, decided.withholdLiterals);
    const names = analysis && namesOf(analysis);
    this.emit({
      type: 'statement',
      time: end,
      start: execution.start,
      end,
      protocol: execution.protocol,
      text: shown.text,
      textSha256: execution.sent.sha256,
      redacted: shown.redacted,
      parameters: execution.parameters,
      command: analysis?.command,
      class: analysis?.class,
      reads: names?.reads,
      writes: names?.writes,
      decision: decided.decision,
      rule:
        part?.refusedWhole && decided.cause !== undefined && decided.cause !== part.index
          ? 'same-query'
          : decided.rule,
      query: part && {
        index: part.index,
        statements: part.of,
        ...(part.refusedWhole && decided.cause !== undefined ? { refusedFor: decided.cause } : {}),
      },
      approval: decided.approval && {
        id: decided.approval.id,
        by: decided.approval.by && [...decided.approval.by],
      },
      outcome,
      bytesIn: execution.bytesIn,
      bytesOut,
      recording,
      masking,
    });
  }
}
