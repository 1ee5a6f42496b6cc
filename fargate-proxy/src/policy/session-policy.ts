import { randomBytes, randomUUID } from 'node:crypto';
import type { Coverage } from '../../../core/approval/approval';
import type { CompiledPolicy, Grant, Identity } from '../../../core/policy/compiled-policy';
import { decide, dependsOnParameters } from '../../../core/policy/decide';
import type { Analysis } from '../../../core/sql/analysis';
import type { ApprovalDesk } from '../approval/approval-desk';
import type { ApprovalEvent } from '../approval/approval-events';
import { redact } from '../audit/redaction';
import type { MaskingPlanner } from '../masking/masking-planner';
import { ResultMasking } from '../masking/result-masking';
import { substituteParameters } from '../masking/token-substitution';
import type { TokenVault } from '../masking/token-vault';
import type { Statement } from '../session/statement';
import type { StatementGate } from '../session/statement-gate';
import { ApprovalStage, type StageResult } from './approval-stage';
import { maskingStep } from './masking-stage';
import {
  type ApprovalAtBind,
  approvalCaseFor,
  approvedText,
  audited,
  cachedDecision,
  executionApproval,
  limitRefusal,
  refusalFor,
} from './policy-decisions';
import { PreparedStatements } from './prepared-statements';
import type { StatementAnalyser } from './statement-analyser';
import type { StatementPacer } from './statement-pacer';

export interface SessionPolicyContext {
  analyser: StatementAnalyser;
  pacer: StatementPacer;
  /** Lineage and masking plans; absent when the gateway cannot reach a catalogue (tests of the gate). */
  masking?: MaskingPlanner;
  /** The key of deterministic masking tokens. */
  maskingTokenKey?: Buffer;
  /** Tokens issued, for rules whose clients may filter with them (`token-equality`). */
  tokenVault?: TokenVault;
  /** Where statements that need approval are decided; absent: such statements are refused. */
  approvals?: ApprovalDesk;
  /** Longest statement analysed, in characters; longer ones are refused. */
  maxStatementChars: number;
  now: () => Date;
}

/** A stage that lets the statement run at once, whatever the stages after it would say. */
const DONE = 'done';
type Stage = (this: SessionPolicy, statement: Statement) => StageResult | typeof DONE;

/**
 * The policy as one session sees it: the grant that admitted it, the statements it prepared, and the
 * judgement pipeline every statement goes through once (SQL text: limits, analysis, decision,
 * approval, masking, pacing; a Bind: its approval, its masking tokens, what depends on its
 * parameters). Implements the relay's StatementGate.
 */
export class SessionPolicy implements StatementGate {
  /**
   * The stages of SQL text (Query, Parse), in order. Masking before approval: a statement masking
   * refuses is never put to an approver, and the request shows it without literals when it reads
   * masked columns. Shared by every session (called on the session's policy).
   */
  private static readonly TEXT_STAGES: readonly Stage[] = [
    SessionPolicy.prototype.limits,
    SessionPolicy.prototype.analyse,
    SessionPolicy.prototype.decide,
    SessionPolicy.prototype.invalidateLineage,
    SessionPolicy.prototype.mask,
    SessionPolicy.prototype.approve,
    SessionPolicy.prototype.pace,
  ];
  /** The stages of a Bind: one execution of a prepared statement, with its parameters. */
  private static readonly BIND_STAGES: readonly Stage[] = [
    SessionPolicy.prototype.approveBind,
    SessionPolicy.prototype.substituteTokens,
    SessionPolicy.prototype.decideBind,
  ];
  private readonly prepared = new PreparedStatements();
  /** Extended-protocol statements whose decision waits for their Bind parameters, by statement name. */
  private readonly awaitingBind = new Map<string, Analysis>();
  /** Prepared statements that need approval: decided at each Bind, with its parameters. */
  private readonly approvalAtBind = new Map<string, ApprovalAtBind>();
  /** Prepared statements whose parameters compare masked columns with tokens: their numbers. */
  private readonly tokenParameters = new Map<string, readonly number[]>();
  readonly maxRows: number | undefined;
  readonly requiresUtf8: boolean;
  /** The session's result masking, when its grant masks columns. */
  readonly masking: ResultMasking | undefined;
  /** The server's idle_in_transaction_session_timeout for this session, in ms (0: none). */
  idleInTransactionMs = 0;
  /** Whether the session is inside a transaction block (the relay knows; set by the session). */
  inTransaction: () => boolean = () => false;
  /** A time-boxed elevation an approval granted: until then, statements are decided by its grant. */
  private elevation: { grant: Grant; until: number; approval: { id: string; by: string[] } } | undefined;
  private readonly approvals: ApprovalStage | undefined;
  /** Names this session as the holder of the requests its held statements make. */
  private readonly holder = randomUUID();

  constructor(
    private readonly context: SessionPolicyContext,
    readonly identity: Identity,
    readonly database: string,
    private policy: CompiledPolicy,
    private currentGrant: Grant,
  ) {
    this.maxRows = currentGrant.limits.maxRows;
    // Admin grants may switch the client encoding; everyone else is read as UTF-8, as the parser reads.
    this.requiresUtf8 = !currentGrant.allow.has('admin');
    this.masking =
      currentGrant.masking && context.masking
        ? new ResultMasking(context.maskingTokenKey ?? randomBytes(32), context.tokenVault)
        : undefined;
    this.approvals =
      context.approvals &&
      new ApprovalStage(context.approvals, {
        elevate: (coverage, until, id, by) => this.elevate(coverage, until, id, by),
        idleInTransactionMs: () => this.idleInTransactionMs,
        inTransaction: () => this.inTransaction(),
      });
  }

  get grant(): Grant {
    return this.currentGrant;
  }

  /** Where the session's approval events go (its audit trail). */
  set onApproval(listener: ((event: ApprovalEvent) => void) | undefined) {
    if (this.approvals) this.approvals.onApproval = listener;
  }

  /** The grant statements are decided by: an approved elevation's while it lasts, else the session's. */
  private decidingGrant(): Grant {
    const elevation = this.elevation;
    if (!elevation) return this.currentGrant;
    if (this.context.now().getTime() * 1000 < elevation.until) return elevation.grant;
    this.elevation = undefined;
    return this.currentGrant;
  }

  /** Function calls by OID cannot be analysed: only a grant that allows what cannot be analysed may. */
  get allowsFunctionCalls(): boolean {
    return (
      this.policy.unknownStatements === 'allow' &&
      this.currentGrant.allow.has('unknown') &&
      this.currentGrant.masking === undefined
    );
  }

  /** Whether statements of this session may be held for approval (a rule of its grant asks for it). */
  get holdsStatements(): boolean {
    return this.context.approvals !== undefined && this.currentGrant.rules.some((r) => r.approval?.wait);
  }

  /** A reloaded policy that still admits the session with the same settings takes effect at once. */
  update(policy: CompiledPolicy, grant: Grant): void {
    this.policy = policy;
    this.currentGrant = grant;
  }

  /**
   * Moves a statement through its judgement pipeline from where it stopped: undefined once its
   * judgement is set, or a promise to wait on before calling again with the same statement.
   */
  advance(statement: Statement): Promise<unknown> | undefined {
    const stages = statement.kind === 'bind' ? SessionPolicy.BIND_STAGES : SessionPolicy.TEXT_STAGES;
    while (statement.stage < stages.length) {
      const result = stages[statement.stage]!.call(this, statement);
      if (result instanceof Promise) return result;
      if (result === DONE) break;
      if (result !== undefined) {
        statement.conclude(result);
        return undefined;
      }
      statement.stage++;
    }
    statement.stage = stages.length;
    statement.conclude();
    if (statement.kind !== 'bind') this.remember(statement);
    return undefined;
  }

  /** Binds are handed over only while some prepared statement's decision needs its Bind. */
  get awaitsBind(): boolean {
    return this.awaitingBind.size > 0 || this.approvalAtBind.size > 0 || this.tokenParameters.size > 0;
  }

  get onExecute(): (() => Promise<unknown> | undefined) | undefined {
    return this.currentGrant.limits.statementsPerSecond !== undefined ? () => this.paceWait() : undefined;
  }

  private paceWait(): Promise<unknown> | undefined {
    const grant = this.currentGrant;
    const rate = grant.limits.statementsPerSecond;
    if (rate === undefined) return undefined;
    return this.context.pacer.wait(
      `${grant.name}\u0000${this.identity.issuer}\u0000${this.identity.subject}`,
      rate,
    );
  }

  // The stages of SQL text (Query and Parse).

  /** A statement masking never traced, under a masking grant: its literals may be masked values. */
  private untraced(grant: Grant): { withholdLiterals?: true } {
    return grant.masking ? { withholdLiterals: true } : {};
  }

  private limits(statement: Statement): StageResult {
    const name = statement.parse?.statementName;
    if (name !== undefined) {
      this.awaitingBind.delete(name);
      this.tokenParameters.delete(name);
      this.approvalAtBind.delete(name);
    }
    const grant = this.decidingGrant();
    statement.grant = grant;
    const refused = limitRefusal(statement.text, grant, this.context.maxStatementChars, this.context.now);
    if (!refused) return undefined;
    statement.decided = { decision: 'refused', rule: refused.rule, ...this.untraced(grant) };
    return refused.refusal;
  }

  private analyse(statement: Statement): StageResult | typeof DONE {
    const result = this.context.analyser.analyse(statement.text, statement.kind === 'query');
    if (result instanceof Promise) return result;
    if (result.ok) {
      statement.analysis = result.analysis;
      return undefined;
    }
    const forward = this.policy.unparseableStatements === 'forward';
    statement.decided = {
      decision: forward ? 'allowed' : 'refused',
      rule: 'unparseable-statements',
      ...this.untraced(statement.grant!),
    };
    if (forward) return DONE;
    return {
      sqlstate: '42601',
      message: result.failure.message,
      detail: 'The gateway refuses statements its parser cannot read (policy: unparseableStatements).',
      position: result.failure.position || undefined,
    };
  }

  private decide(statement: Statement): StageResult {
    const grant = statement.grant!;
    const analysis = statement.analysis!;
    const deferred = statement.kind === 'parse' && dependsOnParameters(analysis);
    const decision =
      deferred || executesPrepared(analysis)
        ? decide(this.policy, grant, analysis, this.prepared.analyses)
        : cachedDecision(this.policy, grant, analysis);
    statement.decided = audited(decision, analysis, this.prepared.analyses);
    // Statements decided under an elevation name the approval that granted it.
    if (this.elevation && grant === this.elevation.grant)
      statement.decided = { ...statement.decided, approval: this.elevation.approval };
    if (decision.outcome === 'allow') return undefined;
    const approvalCase =
      decision.outcome === 'approve' && this.approvals
        ? approvalCaseFor(decision, grant, approvedText(statement.text, analysis, this.prepared.texts), {
            policy: this.policy,
            identity: this.identity,
            database: this.database,
            holder: this.holder,
          })
        : undefined;
    if (!approvalCase) {
      // Refused before masking traced it: under a masking grant its literals may be masked values.
      statement.decided = { ...statement.decided, ...this.untraced(grant) };
      return refusalFor(decision, grant);
    }
    statement.approvalCase = approvalCase;
    return undefined;
  }

  /** The approval a rule asks for, once masking has let the statement through. */
  private approve(statement: Statement): StageResult {
    const found = statement.approvalCase;
    if (!found || statement.decided?.decision === 'approved') return undefined;
    const withhold = statement.decided?.withholdLiterals;
    const show = (text: string) => redact(text, withhold).text;
    const approvalCase = {
      ...found,
      shown: approvedText(show(statement.text), statement.analysis!, this.prepared.texts, show),
    };
    if (statement.parse) {
      // Extended protocol: each execution is approved at its Bind, with its parameters.
      this.approvalAtBind.set(statement.parse.statementName, {
        approvalCase,
        decided: statement.decided!,
        parameterTypes: statement.parse.parameterTypes,
      });
      statement.decided = { ...statement.decided!, decision: 'allowed' };
      return undefined;
    }
    const decided = { ...statement.decided!, decision: 'refused' as const };
    return this.approvals!.step(statement, approvalCase, [], decided);
  }

  /** DDL may change views and tables: cached lineage is forgotten (once, before masking traces). */
  private invalidateLineage(statement: Statement): StageResult {
    const masking = this.context.masking;
    if (masking && statement.analysis!.statements.some((s) => s.class === 'ddl'))
      masking.invalidate(this.database);
    return undefined;
  }

  /** Masking's verdict; a catalogue look-up is a wait, after which tracing runs again. */
  private mask(statement: Statement): StageResult {
    const planner = this.context.masking;
    if (!planner) return undefined;
    return maskingStep(statement, statement.grant!, statement.analysis!, {
      planner,
      tokenVault: this.context.tokenVault,
      database: this.database,
      tokenParameters: this.tokenParameters,
    });
  }

  private pace(statement: Statement): StageResult {
    if (statement.kind !== 'query' || statement.paced) return undefined;
    const wait = this.paceWait();
    if (!wait) return undefined;
    statement.paced = true;
    return wait;
  }

  /** An allowed statement's effects on the session: what SQL PREPARE defines, what waits for Bind. */
  private remember(statement: Statement): void {
    const analysis = statement.analysis;
    if (!analysis || statement.judgement?.refusal) return;
    const name = statement.parse?.statementName;
    if (name !== undefined && dependsOnParameters(analysis)) {
      this.awaitingBind.set(name, analysis);
      return;
    }
    this.prepared.ran(statement.text, analysis);
  }

  // The stages of a Bind: one execution of a prepared statement, with its parameters.

  private approveBind(statement: Statement): StageResult {
    const atBind = this.approvalAtBind.get(statement.bind!.statementName);
    if (!atBind || statement.decided?.decision === 'approved') return undefined;
    const { approvalCase, parameters } = executionApproval(atBind, statement.bind!);
    const decided = { ...atBind.decided, decision: 'refused' as const };
    return this.approvals!.step(statement, approvalCase, parameters, decided);
  }

  private substituteTokens(statement: Statement): StageResult {
    const bind = statement.bind!;
    const tokens = this.tokenParameters.get(bind.statementName);
    if (!tokens || !this.context.tokenVault) return undefined;
    const substituted = substituteParameters(bind, tokens, this.context.tokenVault);
    if ('refused' in substituted) {
      statement.decided = { decision: 'refused', rule: 'masking', withholdLiterals: true };
      return {
        sqlstate: '42501',
        message: `permission denied by policy: ${substituted.refused}`,
        detail: `grant "${this.currentGrant.name}", masking`,
      };
    }
    statement.bindRewrite = substituted.bind;
    return undefined;
  }

  /** The rest of the decision of a statement that depends on its parameters (read as text). */
  private decideBind(statement: Statement): StageResult {
    const bind = statement.bind!;
    const analysis = this.awaitingBind.get(bind.statementName);
    if (!analysis) return undefined;
    const parameters = bind.parameters.map((value, i) =>
      value === null || bind.parameterFormats[i] !== 0 ? null : value.toString('utf8'),
    );
    const grant = this.decidingGrant();
    const decision = decide(this.policy, grant, analysis, this.prepared.analyses, parameters);
    // An execution approved at its Bind keeps its approval in the record.
    const approved = statement.decided?.decision === 'approved' ? statement.decided : undefined;
    statement.decided = audited(decision, analysis, this.prepared.analyses);
    if (decision.outcome !== 'allow') return refusalFor(decision, grant);
    if (approved)
      statement.decided = { ...statement.decided, decision: 'approved', approval: approved.approval };
    return undefined;
  }

  /** An approved elevation takes effect for this session (and is found again by its other sessions). */
  private elevate(coverage: Coverage, until: number | undefined, id: string, by: readonly string[]): void {
    if (coverage.kind !== 'elevation' || until === undefined) return;
    const grant = this.policy.grants.find((g) => g.name === coverage.grant);
    if (!grant?.databases(this.database)) return;
    this.elevation = { grant, until, approval: { id, by: [...by] } };
  }

  /**
   * A CancelRequest for this session: a statement waiting for approval is cancelled here (the server
   * has nothing to cancel) and gets 57014; returns false when nothing waits.
   */
  cancelHeld(): boolean {
    return this.approvals?.cancelHeld() ?? false;
  }

  /**
   * The session is over: a statement still waiting for approval withdraws its request. Returns a
   * promise that resolves once the withdrawal is in the session's audit trail, or undefined when
   * nothing waited.
   */
  close(): Promise<void> | undefined {
    return this.approvals?.close();
  }
}

/** Whether a statement of the text runs an SQL-prepared statement (decided with the session's). */
function executesPrepared(analysis: Analysis): boolean {
  for (const s of analysis.statements) if (s.executes !== undefined) return true;
  return false;
}
