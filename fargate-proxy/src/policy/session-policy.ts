import { randomBytes } from 'node:crypto';
import type { Coverage } from '../../../core/approval/approval';
import type { Operand } from '../../../core/masking/expression-lineage';
import { readsMaskedRelation } from '../../../core/masking/masking-policy';
import { approversBehind } from '../../../core/policy/admission';
import { withinAllowedHours } from '../../../core/policy/allowed-hours';
import type { CompiledPolicy, Grant, Identity } from '../../../core/policy/compiled-policy';
import { type Decision, decide, dependsOnParameters } from '../../../core/policy/decide';
import type { Analysis, StatementAnalysis } from '../../../core/sql/analysis';
import type { ApprovalCase, ApprovalDesk, ApprovalOutcome } from '../approval/approval-desk';
import { type ApprovalEvent, approvalEvent } from '../approval/approval-events';
import { redact } from '../audit/redaction';
import type { AuditedDecision } from '../audit/statement-tracker';
import { sha256 } from '../audit/statement-tracker';
import type { MaskingPlanner, PlannedStatement } from '../masking/masking-planner';
import { ResultMasking } from '../masking/result-masking';
import { substituteParameters, substituteTokens } from '../masking/token-substitution';
import type { TokenVault } from '../masking/token-vault';
import type { BindMessage, ParseMessage } from '../protocol/frontend-messages';
import type { Refusal, StatementGate, Verdict } from '../session/statement-gate';
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

/** Decisions of one grant, by analysis: the literal-free cache makes most statements hit here. */
const decisions = new WeakMap<Grant, WeakMap<Analysis, Decision>>();

function cachedDecision(policy: CompiledPolicy, grant: Grant, analysis: Analysis): Decision {
  let byAnalysis = decisions.get(grant);
  if (!byAnalysis) {
    byAnalysis = new WeakMap();
    decisions.set(grant, byAnalysis);
  }
  let decision = byAnalysis.get(analysis);
  if (!decision) {
    decision = decide(policy, grant, analysis);
    byAnalysis.set(analysis, decision);
  }
  return decision;
}

/**
 * The policy as one session sees it: the grant that admitted it, the statements it prepared with SQL
 * PREPARE, and the per-statement decision. Implements the relay's StatementGate.
 */
export class SessionPolicy implements StatementGate {
  private readonly prepared = new Map<string, StatementAnalysis>();
  /** Extended-protocol statements whose decision waits for their Bind parameters, by statement name. */
  private readonly awaitingBind = new Map<string, Analysis>();
  /** Set when a held statement's turn came: the statement, asked about again, goes without waiting. */
  private turnGranted = false;
  readonly maxRows: number | undefined;
  readonly requiresUtf8: boolean;
  /** The session's result masking, when its grant masks columns. */
  readonly masking: ResultMasking | undefined;
  /** The masking plans of the last statement allowed (one per statement of its text). */
  lastMasking: readonly PlannedStatement[] | undefined;
  /** The last statement allowed, with the tokens it compares masked columns with turned into values. */
  lastRewrite: string | undefined;
  /** The last Bind decided, with token parameters turned into values. */
  lastBindRewrite: BindMessage | undefined;
  /** The last Bind, when it runs under an approval: the decision the audit records for it. */
  lastBindApproval: AuditedDecision | undefined;
  /** The approval request of the statement held on the wire, if any. */
  private held: string | undefined;
  /** The desk's answer for the statement about to be asked about again (see approve). */
  private answer: ApprovalOutcome | { failed: string } | undefined;
  /** The server's idle_in_transaction_session_timeout for this session, in ms (0: none). */
  idleInTransactionMs = 0;
  /** Whether the session is inside a transaction block (the relay knows; set by the session). */
  inTransaction: () => boolean = () => false;
  /** A time-boxed elevation an approval granted: until then, statements are decided by its grant. */
  private elevation: { grant: Grant; until: number; approval: { id: string; by: string[] } } | undefined;
  /** Where the session's approval events go (its audit trail). */
  onApproval: ((event: ApprovalEvent) => void) | undefined;
  private heldCancelled = false;
  private closed = false;
  /** The notice for a client whose statement is held for approval (the relay sends it). */
  pendingNotice: string | undefined;
  /** Prepared statements that need approval: decided at each Bind, with its parameters. */
  private readonly approvalAtBind = new Map<
    string,
    { approvalCase: ApprovalCase; decided: AuditedDecision }
  >();
  /** Prepared statements whose parameters compare masked columns with tokens: their numbers. */
  private readonly tokenParameters = new Map<string, readonly number[]>();

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
  }

  get grant(): Grant {
    return this.currentGrant;
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

  private get paced(): boolean {
    return this.currentGrant.limits.statementsPerSecond !== undefined;
  }

  get onExecute(): (() => Promise<unknown> | undefined) | undefined {
    return this.paced ? () => this.pace() : undefined;
  }

  private pace(): Promise<unknown> | undefined {
    if (this.turnGranted) {
      this.turnGranted = false;
      return undefined;
    }
    const rate = this.currentGrant.limits.statementsPerSecond;
    const wait = rate === undefined ? undefined : this.context.pacer.wait(this.paceKey(), rate);
    return wait?.then(() => {
      this.turnGranted = true;
    });
  }

  private paceKey(): string {
    return `${this.currentGrant.name}\u0000${this.identity.issuer}\u0000${this.identity.subject}`;
  }

  onQuery(text: string): Verdict {
    const verdict = this.judge(text, true);
    if (verdict !== undefined) return verdict;
    return this.pace();
  }

  onParse(parse: ParseMessage): Verdict {
    this.awaitingBind.delete(parse.statementName);
    return this.judge(parse.query, false, parse.statementName);
  }

  get awaitsBind(): boolean {
    return this.awaitingBind.size > 0;
  }

  /** The rest of the decision of a statement that depends on its parameters (read as text). */
  onBind(bind: BindMessage): Refusal | Promise<void> | undefined {
    // A notice belongs to the hold that set it, never to a later wait (a catalogue look-up, pacing).
    this.pendingNotice = undefined;
    this.lastBindRewrite = undefined;
    this.lastBindApproval = undefined;
    const atBind = this.approvalAtBind.get(bind.statementName);
    if (atBind) {
      const parameters = bind.parameters.map((value) => (value === null ? null : sha256(value)));
      const refused = this.approve(atBind.approvalCase, parameters, atBind.decided);
      if (refused) return refused;
      this.lastBindApproval = this.lastDecision;
    }
    const tokens = this.tokenParameters.get(bind.statementName);
    if (tokens && this.context.tokenVault) {
      const substituted = substituteParameters(bind, tokens, this.context.tokenVault);
      if ('refused' in substituted) {
        this.lastDecision = { decision: 'refused', rule: 'masking', withholdLiterals: true };
        return {
          sqlstate: '42501',
          message: `permission denied by policy: ${substituted.refused}`,
          detail: `grant "${this.currentGrant.name}", masking`,
        };
      }
      this.lastBindRewrite = substituted.bind;
    }
    const analysis = this.awaitingBind.get(bind.statementName);
    if (!analysis) return undefined;
    const parameters = bind.parameters.map((value, i) =>
      value === null || bind.parameterFormats[i] !== 0 ? null : value.toString('utf8'),
    );
    const grant = this.decidingGrant();
    const decision = decide(this.policy, grant, analysis, this.prepared, parameters);
    this.lastDecision = audited(decision, analysis);
    return decision.outcome === 'allow' ? undefined : refusalFor(decision, grant);
  }

  /** The decision of the last statement decided, for the audit record (see StatementGate). */
  lastDecision: AuditedDecision | undefined;

  private judge(
    sql: string,
    simpleQuery: boolean,
    statementName?: string,
  ): Refusal | Promise<void> | undefined {
    const grant = this.decidingGrant();
    this.pendingNotice = undefined;
    this.lastMasking = undefined;
    this.lastRewrite = undefined;
    if (statementName !== undefined) {
      this.tokenParameters.delete(statementName);
      this.approvalAtBind.delete(statementName);
    }
    if (sql.length > this.context.maxStatementChars) {
      this.lastDecision = { decision: 'refused', rule: 'statement-size' };
      return {
        sqlstate: '54000',
        message: `statement is longer than the gateway's limit of ${this.context.maxStatementChars} characters`,
      };
    }
    const hours = grant.limits.allowedHours;
    if (hours && !withinAllowedHours(hours, this.context.now())) {
      this.lastDecision = { decision: 'refused', rule: 'allowed-hours' };
      return {
        sqlstate: '42501',
        message: `permission denied by policy: statements are allowed only within the hours of grant "${grant.name}"`,
        detail: `grant "${grant.name}", rule "allowed-hours"`,
      };
    }
    const result = this.context.analyser.analyse(sql, simpleQuery);
    if (result instanceof Promise) return result;
    if (!result.ok) {
      const forward = this.policy.unparseableStatements === 'forward';
      this.lastDecision = { decision: forward ? 'allowed' : 'refused', rule: 'unparseable-statements' };
      if (forward) return undefined;
      return {
        sqlstate: '42601',
        message: result.failure.message,
        detail: 'The gateway refuses statements its parser cannot read (policy: unparseableStatements).',
        position: result.failure.position || undefined,
      };
    }
    const { analysis } = result;
    const deferred = statementName !== undefined && dependsOnParameters(analysis);
    const decision =
      deferred || analysis.statements.some((s) => s.executes !== undefined)
        ? decide(this.policy, grant, analysis, this.prepared)
        : cachedDecision(this.policy, grant, analysis);
    this.lastDecision = audited(decision, analysis);
    // Statements decided under an elevation name the approval that granted it.
    if (this.elevation && grant === this.elevation.grant)
      this.lastDecision = { ...this.lastDecision, approval: this.elevation.approval };
    if (decision.outcome === 'approve') {
      const approvalCase = this.approvalCase(decision, grant, sql);
      if (!approvalCase) return refusalFor(decision, grant);
      const decided = this.lastDecision!;
      if (statementName !== undefined) {
        // Extended protocol: each execution is approved at its Bind, with its parameters.
        this.approvalAtBind.set(statementName, { approvalCase, decided });
        this.lastDecision = { ...decided, decision: 'allowed' };
      } else {
        const refused = this.approve(approvalCase, [], decided);
        if (refused) return refused;
      }
    } else if (decision.outcome !== 'allow') {
      return refusalFor(decision, grant);
    }
    const masked = this.maskingVerdict(grant, sql, analysis, statementName);
    if (masked !== undefined) return masked;
    if (deferred) this.awaitingBind.set(statementName, analysis);
    else this.track(analysis);
    return undefined;
  }

  /**
   * Masking: the statement's lineage decides whether it may run. A statement that would reveal masked
   * values (by filtering on them, copying them, or through what cannot be traced) is refused; the plans
   * of one that may run are left in `lastMasking` for the relay, which masks its results. DDL
   * invalidates cached lineage.
   */
  private maskingVerdict(
    grant: Grant,
    sql: string,
    analysis: Analysis,
    statementName: string | undefined,
  ): Refusal | Promise<void> | undefined {
    const planner = this.context.masking;
    if (!planner) return undefined;
    if (analysis.statements.some((s) => s.class === 'ddl')) planner.invalidate(this.database);
    if (!grant.masking) return undefined;
    const refuse = (reason: string): Refusal => {
      this.lastDecision = {
        decision: 'refused',
        rule: 'masking',
        statements: analysis.statements,
        withholdLiterals: this.lastDecision?.withholdLiterals,
      };
      return {
        sqlstate: '42501',
        message: `permission denied by policy: ${reason}`,
        detail: `grant "${grant.name}", masking`,
      };
    };
    let plans: ReturnType<MaskingPlanner['plans']>;
    try {
      plans = planner.plans(grant, this.database, sql);
    } catch (error) {
      // Not traced: its literals might be masked values.
      if (this.lastDecision) this.lastDecision = { ...this.lastDecision, withholdLiterals: true };
      return refuse(`masking could not trace the statement (${(error as Error).message})`);
    }
    if (plans instanceof Promise) return plans;
    if (plans.some(({ lineage }) => readsMaskedRelation(lineage, grant.masking!)) && this.lastDecision) {
      this.lastDecision = { ...this.lastDecision, withholdLiterals: true };
    }
    const operands: Operand[] = [];
    for (const { plan } of plans) {
      if (plan.refused !== undefined) return refuse(plan.refused);
      operands.push(...plan.tokenOperands);
    }
    if (operands.length > 0) {
      const vault = this.context.tokenVault;
      if (!vault) return refuse('this gateway keeps no tokens to compare masked columns with');
      const rewritten = substituteTokens(sql, operands, vault);
      if ('refused' in rewritten) return refuse(rewritten.refused);
      this.lastRewrite = rewritten.sql;
      const parameters = operands.flatMap((o) => ('parameter' in o ? [o.parameter] : []));
      if (parameters.length > 0 && statementName !== undefined)
        this.tokenParameters.set(statementName, parameters);
    }
    this.lastMasking = plans;
    return undefined;
  }

  /** A statement the policy sends for approval, when the rule has an approval workflow and one runs here. */
  private approvalCase(decision: Decision, grant: Grant, sql: string): ApprovalCase | undefined {
    const rule = grant.rules.find((r) => r.name === decision.rule);
    if (!this.context.approvals || !rule?.approval) return undefined;
    return {
      issuer: this.identity.issuer,
      subject: this.identity.subject,
      database: this.database,
      text: sql,
      parameters: [],
      grant: grant.name,
      rule: rule.name,
      reason: decision.reason,
      shown: redact(sql).text,
      approval: rule.approval,
      excluded: approversBehind(this.policy, this.identity),
      contacts: Object.fromEntries(
        this.policy.approvers
          .filter((a) => rule.approval!.approvers.includes(a.name))
          .map(({ name, email, slack }) => [name, { email, slack }]),
      ),
    };
  }

  /**
   * Runs the statement if an approval of it is there to use; otherwise refuses with the request, or
   * holds it until the request is decided. The desk's store may be remote, so asking it is a hold too:
   * the statement is asked about again with the desk's answer in `answer`.
   */
  private approve(
    approvalCase: ApprovalCase,
    parameters: readonly (string | null)[],
    decided: AuditedDecision,
  ): Refusal | Promise<void> | undefined {
    const desk = this.context.approvals!;
    const answer = this.answer;
    this.answer = undefined;
    if (!answer) {
      // A statement asked about again after its hold: its own request answers, never a new one.
      const held = this.held;
      this.held = undefined;
      if (held && this.heldCancelled) {
        this.heldCancelled = false;
        this.lastDecision = { ...decided, decision: 'refused', approval: { id: held } };
        return {
          sqlstate: '57014',
          message: 'canceling statement due to user request',
          detail: `The statement was waiting for approval; request ${held} is withdrawn.`,
        };
      }
      const timeoutMs = this.holdLimitMs(approvalCase.approval.timeoutMs, approvalCase.approval.wait);
      return (async () => {
        try {
          this.answer =
            (held && (await desk.decideHeld(held))) ||
            (await desk.decide({ ...approvalCase, parameters }, timeoutMs));
        } catch (error) {
          this.answer = { failed: (error as Error).message };
        }
      })();
    }
    if ('failed' in answer) {
      this.lastDecision = { ...decided, decision: 'refused' };
      return {
        sqlstate: '58000',
        message:
          'approval could not be checked: the approval store or workflow is unavailable; the statement did not run',
        detail: answer.failed,
      };
    }
    const outcome = answer;
    const approval = { id: outcome.request.id, ...(outcome.allowed ? { by: outcome.by } : {}) };
    this.lastDecision = { ...decided, decision: outcome.allowed ? 'approved' : 'refused', approval };
    if (outcome.allowed) {
      this.onApproval?.(approvalEvent(outcome.record, 'approved'));
      this.elevate(outcome.request.coverage, outcome.until, approval.id, outcome.by);
      return undefined;
    }
    if (outcome.opened) this.onApproval?.(approvalEvent(outcome.record, 'requested'));
    else if (outcome.state !== 'pending') this.onApproval?.(approvalEvent(outcome.record, outcome.state));
    if (outcome.pending && this.closed) {
      void desk.cancel(outcome.request.id).catch(() => undefined);
      return outcome.refusal;
    }
    if (outcome.pending && approvalCase.approval.wait) {
      this.held = outcome.request.id;
      this.pendingNotice = desk.notice(outcome.request);
      return desk.decided(outcome.request.id, () => this.closed || this.heldCancelled);
    }
    return outcome.refusal;
  }

  /** An approved elevation takes effect for this session (and is found again by its other sessions). */
  private elevate(coverage: Coverage, until: number | undefined, id: string, by: readonly string[]): void {
    if (coverage.kind !== 'elevation' || until === undefined) return;
    const grant = this.policy.grants.find((g) => g.name === coverage.grant);
    if (!grant?.databases(this.database)) return;
    this.elevation = { grant, until, approval: { id, by: [...by] } };
  }

  /**
   * The longest a statement may be held: a session inside a transaction is idle on the server while
   * it waits, so the hold ends before the server's idle_in_transaction_session_timeout would end the
   * session under it (with a margin for the decision to travel).
   */
  private holdLimitMs(timeoutMs: number, wait: boolean): number {
    const idle = this.idleInTransactionMs;
    if (!wait || idle <= 0 || !this.inTransaction()) return timeoutMs;
    const margin = Math.min(2_000, idle / 5);
    return Math.min(timeoutMs, idle - margin);
  }

  /**
   * A CancelRequest for this session: a statement waiting for approval is cancelled here (the server
   * has nothing to cancel) and gets 57014; returns false when nothing waits.
   */
  cancelHeld(): boolean {
    if (!this.held) return false;
    this.heldCancelled = true;
    this.withdraw(this.held);
    return true;
  }

  /** The session is over: a statement still waiting for approval withdraws its request. */
  close(): void {
    this.closed = true;
    if (this.held) this.withdraw(this.held);
    this.held = undefined;
  }

  private withdraw(id: string): void {
    const desk = this.context.approvals;
    if (!desk) return;
    void desk.cancel(id).then(
      () => this.onApproval?.({ id, event: 'cancelled' }),
      () => undefined,
    );
  }

  /** Remembers what SQL PREPARE defines, so a later EXECUTE is decided by it. */
  private track(analysis: Analysis): void {
    for (const statement of analysis.statements) {
      if (statement.prepares) this.prepared.set(statement.prepares.name, statement.prepares.statement);
      if (statement.deallocates === true) this.prepared.clear();
      else if (statement.deallocates !== undefined) this.prepared.delete(statement.deallocates);
    }
  }
}

function audited(decision: Decision, analysis: Analysis): AuditedDecision {
  return {
    decision: decision.outcome === 'allow' ? 'allowed' : 'refused',
    rule: decision.rule,
    statements: analysis.statements,
  };
}

export function refusalFor(decision: Decision, grant: Grant): Refusal {
  const detail = `grant "${grant.name}", rule "${decision.rule}"${decision.statement ? `, statement: ${decision.statement.command}` : ''}`;
  if (decision.outcome === 'approve') {
    return {
      sqlstate: '42501',
      message: `approval required by policy: ${decision.reason}`,
      detail,
      hint: 'This gateway has no approval workflow configured, so statements that need approval are refused.',
    };
  }
  return { sqlstate: '42501', message: `permission denied by policy: ${decision.reason}`, detail };
}
