import type { StatementRecord } from '../../../core/audit/records';
import { CopyMasker } from '../../../core/masking/copy-masker';
import {
  canMask,
  detectingMasker,
  TypeOid,
  type ValueMasker,
  valueMasker,
} from '../../../core/masking/mask-values';
import type { MaskingPlan } from '../../../core/masking/masking-policy';
import { RowMasker } from '../../../core/masking/row-masker';
import { errorResponse } from '../protocol/backend-messages';
import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeRowDescription, type FieldDescription } from '../protocol/row-description';
import type { PlannedStatement } from './masking-planner';
import type { TokenVault } from './token-vault';

/** The SQLSTATE of a result the gateway could not mask safely (insufficient_privilege, as refusals). */
export const MASKING_SQLSTATE = '42501';

type Plan = Exclude<MaskingPlan, { refused: string }>;

interface Statement {
  readonly planned: PlannedStatement | undefined;
  description?: readonly FieldDescription[];
}

interface Portal {
  readonly statement: Statement | undefined;
  readonly formats: readonly number[];
  description?: readonly FieldDescription[];
}

/** How a result in flight is treated: rows rewritten, passed as they are, or dropped (`cut`). */
/** A masked column of a result: its position, its name, the rule. */
interface MaskedColumn {
  readonly index: number;
  readonly name: string;
  readonly rule: string;
}

type Treatment =
  | { kind: 'mask'; rows: RowMasker; masked: readonly MaskedColumn[] }
  | { kind: 'copy'; rows: CopyMasker; masked: readonly MaskedColumn[] }
  | { kind: 'pass' }
  | { kind: 'cut'; reason: string };

/** What the audit record of a statement says about its masking. */
export type MaskingNote = NonNullable<StatementRecord['masking']>;

/** What the server owes, in order: one entry per message that gets an answer. */
type Expected =
  | { kind: 'statement'; batch: number; planned: PlannedStatement | undefined; treatment?: Treatment }
  | { kind: 'execute'; batch: number; portal: Portal | undefined; treatment?: Treatment }
  | { kind: 'describe'; batch: number; target: Statement | Portal | undefined }
  | { kind: 'parse' | 'bind' | 'close'; batch: number }
  | { kind: 'ready'; batch: number };

const PASS: Treatment = { kind: 'pass' };

/**
 * Masks the results of one session, following the protocol: which statement each RowDescription,
 * DataRow and end of result belongs to (simple queries, and Parse/Bind/Describe/Execute/Sync with
 * named statements and portals described once and executed many times), and the plan of each. Rows
 * are rewritten as they pass; when a result cannot be masked safely (its columns disagree with the
 * lineage, a type has no masked value in the requested format, no description is known) its rows are
 * dropped and its end becomes an error: fail closed.
 */
export class ResultMasking {
  private readonly statements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();
  /** SQL-level cursors and prepared statements: FETCH and EXECUTE return what they were declared as. */
  private readonly cursors = new Map<string, PlannedStatement>();
  private readonly sqlPrepared = new Map<string, PlannedStatement>();
  private readonly expected: Expected[] = [];
  private batch = 0;
  /** What masking did to the result that ended last (read by the relay for the audit record). */
  lastNote: MaskingNote | undefined;

  constructor(
    private readonly tokenKey: Buffer,
    /** Where tokens clients may compare with are kept (rules with `token-equality`). */
    private readonly vault?: TokenVault,
  ) {}

  // What the client sends.

  query(planned: readonly PlannedStatement[] | undefined): void {
    const batch = ++this.batch;
    for (const statement of planned ?? [undefined]) {
      this.remember(statement);
      this.expected.push({ kind: 'statement', batch, planned: statement });
    }
    this.expected.push({ kind: 'ready', batch });
    this.batch++;
  }

  parse(name: string, planned: PlannedStatement | undefined): void {
    this.remember(planned);
    this.statements.set(name, { planned });
    this.expected.push({ kind: 'parse', batch: this.batch });
  }

  bind(portal: string, statement: string, resultFormats: readonly number[]): void {
    this.portals.set(portal, { statement: this.statements.get(statement), formats: resultFormats });
    this.expected.push({ kind: 'bind', batch: this.batch });
  }

  describe(kind: 'S' | 'P', name: string): void {
    const target = kind === 'S' ? this.statements.get(name) : this.portals.get(name);
    this.expected.push({ kind: 'describe', batch: this.batch, target });
  }

  execute(portal: string): void {
    this.expected.push({ kind: 'execute', batch: this.batch, portal: this.portals.get(portal) });
  }

  close(kind: 'S' | 'P', name: string): void {
    if (kind === 'S') this.statements.delete(name);
    else this.portals.delete(name);
    this.expected.push({ kind: 'close', batch: this.batch });
  }

  sync(): void {
    this.expected.push({ kind: 'ready', batch: this.batch });
    this.batch++;
  }

  private remember(planned: PlannedStatement | undefined): void {
    const lineage = planned?.lineage;
    if (lineage?.declares !== undefined) this.cursors.set(lineage.declares, planned!);
    if (lineage?.prepares !== undefined) this.sqlPrepared.set(lineage.prepares, planned!);
  }

  // What the server answers. Returns the message to send instead (null: nothing), or undefined.

  server(code: number, message: Buffer): Buffer | null | undefined {
    switch (code) {
      case BackendCode.ParseComplete:
      case BackendCode.BindComplete:
      case BackendCode.CloseComplete:
        this.expected.shift();
        return undefined;
      case BackendCode.RowDescription:
      case BackendCode.NoData:
        return this.description(code === BackendCode.NoData ? [] : decodeRowDescription(message));
      case BackendCode.DataRow:
        return this.row(message);
      case BackendCode.CopyOutResponse:
        this.copyStarts(message);
        return undefined;
      case BackendCode.CopyData:
        return this.copyData(message);
      case BackendCode.CommandComplete:
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        return this.resultEnds();
      case BackendCode.ErrorResponse:
        this.failed();
        return undefined;
      case BackendCode.ReadyForQuery:
        this.ready();
        return undefined;
      default:
        return undefined;
    }
  }

  /**
   * Whether the rows (DataRow, CopyData) of the result the server is on must be looked at: its plan
   * masks a column, its treatment is not a plain pass, or its plan is not known. The relay stops
   * inspecting rows otherwise, so results without masked columns pass at full speed.
   */
  needsRows(): boolean {
    for (const entry of this.expected) {
      if (entry.kind !== 'statement' && entry.kind !== 'execute') continue;
      if (entry.treatment) return entry.treatment.kind !== 'pass';
      const planned = entry.kind === 'statement' ? entry.planned : entry.portal?.statement?.planned;
      const plan = this.planOf(planned);
      return plan === 'unknown' || plan?.columns !== undefined || (entry.kind === 'execute' && !entry.portal);
    }
    return false;
  }

  private current(): Extract<Expected, { kind: 'statement' | 'execute' }> | undefined {
    const head = this.expected[0];
    return head?.kind === 'statement' || head?.kind === 'execute' ? head : undefined;
  }

  private description(fields: readonly FieldDescription[]): undefined {
    const head = this.expected[0];
    if (head?.kind === 'describe') {
      this.expected.shift();
      if (head.target) head.target.description = fields;
      // A portal's description is also its statement's (formats aside): clients that describe the
      // portal once and then only Bind and Execute (pgjdbc) are followed with it.
      if (head.target && 'formats' in head.target && head.target.statement) {
        head.target.statement.description ??= fields;
      }
    } else if (head?.kind === 'statement') {
      head.treatment = this.treatment(this.planOf(head.planned), fields);
    }
    return undefined;
  }

  private row(message: Buffer): Buffer | null | undefined {
    const head = this.current();
    if (!head) return null; // a row nobody asked for: not forwarded unmasked
    head.treatment ??= this.executionTreatment(head);
    const treatment = head.treatment;
    if (treatment.kind === 'pass') return undefined;
    if (treatment.kind !== 'mask') return null;
    try {
      const masked = treatment.rows.mask(message);
      return masked === message ? undefined : masked;
    } catch (error) {
      head.treatment = { kind: 'cut', reason: (error as Error).message };
      return null;
    }
  }

  /** COPY … TO STDOUT: its rows are rewritten in the statement's own format. */
  private copyStarts(message: Buffer): void {
    const head = this.current();
    if (!head) return;
    const planned = head.kind === 'statement' ? head.planned : head.portal?.statement?.planned;
    head.treatment = this.copyTreatment(this.planOf(planned), planned, message);
  }

  private copyTreatment(
    plan: Plan | 'unknown' | undefined,
    planned: PlannedStatement | undefined,
    message: Buffer,
  ): Treatment {
    if (!plan) return PASS;
    if (plan === 'unknown') return { kind: 'cut', reason: 'the COPY was not traced' };
    const columns = plan.columns;
    if (!columns) return PASS;
    const format = planned?.lineage.copy;
    const output = planned?.lineage.output ?? [];
    const binary = message[HEADER_LENGTH] === 1;
    if (!format || binary !== (format.format === 'binary')) {
      return { kind: 'cut', reason: 'the COPY format is not known' };
    }
    const width = message.readInt16BE(HEADER_LENGTH + 1);
    if (width !== columns.length) {
      return { kind: 'cut', reason: 'the COPY columns do not match the statement as traced' };
    }
    const maskers: (ValueMasker | undefined)[] = [];
    const masked: MaskedColumn[] = [];
    for (const [i, mask] of columns.entries()) {
      if (!mask) {
        maskers.push(undefined);
        continue;
      }
      masked.push({ index: i, name: output[i]?.name ?? `column${i + 1}`, rule: mask.rule });
      // Text and CSV carry every value in its text form; binary needs the exact type.
      const type = output[i]?.type ?? (binary ? undefined : TypeOid.text);
      if (type === undefined || !canMask(type, binary ? 1 : 0, mask.spec.method)) {
        return { kind: 'cut', reason: `column "${output[i]?.name}" has no masked value in this COPY format` };
      }
      maskers.push(
        mask.detect
          ? detectingMasker(type, binary ? 1 : 0)
          : valueMasker(mask.spec, type, binary ? 1 : 0, this.tokenKey, this.vault?.issued),
      );
    }
    return { kind: 'copy', rows: new CopyMasker(format, maskers), masked };
  }

  private copyData(message: Buffer): Buffer | null | undefined {
    const head = this.current();
    const treatment = head?.treatment;
    if (!head) return null; // COPY data nobody asked for: not forwarded unmasked
    if (!treatment || treatment.kind === 'pass') return undefined;
    if (treatment.kind !== 'copy') return null;
    try {
      const payload = treatment.rows.mask(message.subarray(HEADER_LENGTH));
      const out = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
      out[0] = BackendCode.CopyData;
      out.writeInt32BE(payload.length + 4, 1);
      payload.copy(out, HEADER_LENGTH);
      return out;
    } catch (error) {
      head.treatment = { kind: 'cut', reason: (error as Error).message };
      return null;
    }
  }

  /** CommandComplete, EmptyQueryResponse, PortalSuspended (the next Execute is a new entry). */
  private resultEnds(): Buffer | undefined {
    const head = this.current();
    this.lastNote = undefined;
    if (!head) return undefined;
    const treatment = head.treatment;
    this.expected.shift();
    if (treatment?.kind === 'mask' || treatment?.kind === 'copy') {
      this.lastNote = {
        columns: treatment.masked.map((c) => ({
          name: c.name,
          rule: c.rule,
          values: treatment.rows.counts[c.index] ?? 0,
        })),
      };
    }
    if (treatment?.kind !== 'cut') return undefined;
    this.lastNote = { columns: [], withheld: treatment.reason };
    return errorResponse({
      severity: 'ERROR',
      code: MASKING_SQLSTATE,
      message: `permission denied by policy: the result could not be masked (${treatment.reason})`,
      detail: 'No row of this result was sent.',
    });
  }

  /** An error ends the message it answers; the server skips the rest of the batch up to its end. */
  private failed(): void {
    const head = this.expected[0];
    if (!head) return;
    const batch = head.batch;
    while (
      this.expected.length > 0 &&
      this.expected[0]!.batch === batch &&
      this.expected[0]!.kind !== 'ready'
    ) {
      this.expected.shift();
    }
  }

  private ready(): void {
    while (this.expected.length > 0) {
      const entry = this.expected.shift()!;
      if (entry.kind === 'ready') return;
    }
  }

  /**
   * The plan of a result; FETCH and EXECUTE return what their cursor or prepared statement was
   * planned to (`unknown` when it was not declared through the gateway).
   */
  private planOf(planned: PlannedStatement | undefined): Plan | 'unknown' | undefined {
    const lineage = planned?.lineage;
    let source = planned;
    if (lineage?.fetches !== undefined) source = this.cursors.get(lineage.fetches);
    else if (lineage?.executes !== undefined) source = this.sqlPrepared.get(lineage.executes);
    if (!source) return planned ? 'unknown' : undefined;
    const plan = source.plan;
    return plan.refused === undefined ? plan : 'unknown';
  }

  private executionTreatment(head: Extract<Expected, { kind: 'statement' | 'execute' }>): Treatment {
    if (head.kind === 'statement') return this.treatment(this.planOf(head.planned), undefined);
    const portal = head.portal;
    const plan = this.planOf(portal?.statement?.planned);
    const described =
      portal?.description ?? withFormats(portal?.statement?.description, portal?.formats ?? []);
    return this.treatment(plan, described);
  }

  private treatment(
    plan: Plan | 'unknown' | undefined,
    fields: readonly FieldDescription[] | undefined,
  ): Treatment {
    if (!plan) return PASS;
    if (plan === 'unknown') {
      return { kind: 'cut', reason: 'the cursor or prepared statement was not declared through the gateway' };
    }
    const columns = plan.columns;
    if (!fields)
      return columns ? { kind: 'cut', reason: 'the client did not ask for the result description' } : PASS;
    if (columns && columns.length !== fields.length) {
      return { kind: 'cut', reason: 'the result columns do not match the statement as traced' };
    }
    const maskers: (ValueMasker | undefined)[] = [];
    const masked: MaskedColumn[] = [];
    for (const [i, field] of fields.entries()) {
      const mask = columns?.[i];
      if (!mask) {
        // The server's own label of a plain column: a masked column the lineage missed is not sent.
        if (field.tableOid !== 0 && plan.maskedAttributes.has(`${field.tableOid}:${field.attnum}`)) {
          return { kind: 'cut', reason: `column "${field.name}" is masked but was not traced as such` };
        }
        maskers.push(undefined);
        continue;
      }
      if (!mask.detect && !canMask(field.typeOid, field.format, mask.spec.method)) {
        return {
          kind: 'cut',
          reason: `column "${field.name}": type ${field.typeOid} has no masked value in this format`,
        };
      }
      maskers.push(
        mask.detect
          ? detectingMasker(field.typeOid, field.format)
          : valueMasker(mask.spec, field.typeOid, field.format, this.tokenKey, this.vault?.issued),
      );
      masked.push({ index: i, name: field.name, rule: mask.rule });
    }
    if (maskers.every((m) => m === undefined)) return PASS;
    return { kind: 'mask', rows: new RowMasker(maskers), masked };
  }
}

/** A statement's description (formats unknown) with a Bind's result formats applied. */
function withFormats(
  fields: readonly FieldDescription[] | undefined,
  formats: readonly number[],
): FieldDescription[] | undefined {
  if (!fields) return undefined;
  return fields.map((field, i) => ({
    ...field,
    format: formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0),
  }));
}
