import type { Grant } from '../../../core/policy/compiled-policy';
import type { Analysis } from '../../../core/sql/analysis';
import type { ApprovalCase } from '../approval/approval-desk';
import type { AuditedDecision } from '../audit/statement-tracker';
import type { PlannedStatement } from '../masking/masking-planner';
import { nowMicros } from '../observability/clock';
import type { BindMessage, ParseMessage } from '../protocol/frontend-messages';
import type { Refusal } from './statement-gate';

/**
 * What the gate concluded about a statement, once and for all: whether it runs (a refusal when it does
 * not), what the audit records of it, how its results are masked and what is forwarded instead of the
 * client's text. Every later stage (strict durability, the audit record, result masking) reads this;
 * none judges the statement again.
 */
export interface Judgement {
  refusal?: Refusal;
  /**
   * What the audit records; absent for a Bind the policy let through without deciding it again (the
   * decision of its prepared statement applies).
   */
  decided?: AuditedDecision;
  /** Masking plans, one per statement of the text (Query, Parse). */
  masking?: readonly PlannedStatement[];
  /** The text to forward instead (masking tokens turned back into values). */
  rewrite?: string;
  /** The Bind to forward instead (token parameters turned back into values). */
  bindRewrite?: BindMessage;
}

/** Judgements of allowed statements that carry nothing but their (shared) decision, by decision. */
const ALLOWED = new WeakMap<AuditedDecision, Judgement>();

/** An approval the statement asked for, while it is being decided (see ApprovalStage). */
export interface ApprovalProgress {
  /** The request the statement waits on. */
  held?: string;
  /** The client withdrew it (CancelRequest) while it waited. */
  cancelled?: boolean;
  /** The withdrawal was sent to the store (it is recorded once). */
  withdrawn?: boolean;
  /** The desk's last answer, waiting to be read by the stage that asked. */
  answer?: unknown;
}

/**
 * One statement as the gateway handles it, created when its message arrives and carried to the end: a
 * simple Query (all of its statements), a Parse (the prepared statement's judgement, which each of its
 * executions starts from), or a Bind (one portal execution: the prepared statement with these
 * parameters). The judgement pipeline (SessionPolicy.advance) moves it stage by stage; a stage that must
 * wait (an analysis on the parse pool, a catalogue look-up, an approver, the pacer) leaves it where it
 * is, and the relay resumes the same object when the wait is over.
 */
export class Statement {
  /**
   * Microseconds since the epoch when the client's message arrived: the audit record's `start`. Read
   * from the clock only when a session is audited (see `stamp`).
   */
  arrived: number | undefined;
  /** How far the judgement pipeline got (an index into its stages). */
  stage = 0;
  judgement: Judgement | undefined;
  /** Set while the statement waits for an approver: the notice its client gets. */
  notice: string | undefined;
  /** The notice the client was last told. */
  announced: string | undefined;
  approval: ApprovalProgress | undefined;
  /** Strict audit: whether its record is in the shared store (undefined: not asked yet). */
  durability: 'none' | 'stored' | { failed: string } | undefined;
  /** The decision so far (the pipeline refines it); the judgement's when done. */
  decided: AuditedDecision | undefined;
  /** Masking plans and rewrites found so far. */
  masking: readonly PlannedStatement[] | undefined;
  rewrite: string | undefined;
  bindRewrite: BindMessage | undefined;
  /** Pacing: the statement's turn came. */
  paced = false;
  /** The grant deciding it, fixed when it arrived (an elevation that ends meanwhile does not move it). */
  grant: Grant | undefined;
  analysis: Analysis | undefined;
  /** The policy sends it for approval: the request it makes. */
  approvalCase: ApprovalCase | undefined;

  private constructor(
    readonly kind: 'query' | 'parse' | 'bind',
    /** The text: the whole Query or the Parse's text (empty for a Bind). */
    readonly text: string,
    readonly parse?: ParseMessage,
    readonly bind?: BindMessage,
  ) {}

  static query(text: string): Statement {
    return new Statement('query', text);
  }

  static parse(parse: ParseMessage): Statement {
    return new Statement('parse', parse.query, parse);
  }

  /** A Bind: its text is the prepared statement's, which the policy and the audit know by name. */
  static bind(bind: BindMessage): Statement {
    return new Statement('bind', '', undefined, bind);
  }

  /** Notes the time of arrival (an audited session's record starts there). */
  stamp(): this {
    this.arrived = nowMicros();
    return this;
  }

  /** The statement name of a Parse, or the statement a Bind executes. */
  get statementName(): string | undefined {
    return this.parse?.statementName ?? this.bind?.statementName;
  }

  /** Ends the pipeline: the statement runs (no refusal) or is refused. */
  conclude(refusal?: Refusal): Judgement {
    const decided = this.decided;
    // The common case, an allowed statement with nothing to mask or rewrite under a shared (cached)
    // decision: one judgement object serves every such statement.
    if (!refusal && decided && !this.masking && this.rewrite === undefined && !this.bindRewrite) {
      let judgement = ALLOWED.get(decided);
      if (!judgement) {
        judgement = { decided };
        ALLOWED.set(decided, judgement);
      }
      this.judgement = judgement;
      this.notice = undefined;
      return judgement;
    }
    const judgement: Judgement = {
      refusal,
      decided:
        decided ??
        (refusal || this.kind !== 'bind' ? { decision: refusal ? 'refused' : 'allowed' } : undefined),
      masking: refusal ? undefined : this.masking,
      rewrite: refusal ? undefined : this.rewrite,
      bindRewrite: refusal ? undefined : this.bindRewrite,
    };
    this.judgement = judgement;
    this.notice = undefined;
    return judgement;
  }
}
