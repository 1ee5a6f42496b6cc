import { BackendCode, FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { type BindMessage, decodeExecute } from '../protocol/frontend-messages';
import type { AuditedDecision, StatementTracker } from './statement-tracker';

/** Client messages the audit needs to see whole (besides Query and Parse, which the gate sees). */
export const AUDITED_CLIENT_CODES = [FrontendCode.Bind, FrontendCode.Execute, FrontendCode.Sync] as const;
/** Server messages that end an execution or a batch. */
export const AUDITED_SERVER_CODES = [
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  BackendCode.ErrorResponse,
  BackendCode.ReadyForQuery,
] as const;

/**
 * The relay's side of the audit: it hands over the messages it inspects, already decided; this turns
 * them into tracker calls. Kept apart so the relay stays a relay.
 */
export class RelayAudit {
  constructor(
    readonly tracker: StatementTracker,
    private readonly spool: { readonly hasPending: boolean; flush(): void },
  ) {}

  /** Records of what the client is about to learn reach the spool first. */
  beforeClientWrite(): void {
    if (this.spool.hasPending) this.spool.flush();
  }

  query(text: string, decided: AuditedDecision, bytes: number): void {
    this.tracker.query(text, decided, bytes);
  }

  parse(statementName: string, text: string, decided: AuditedDecision): void {
    this.tracker.parse(statementName, text, decided);
  }

  bind(bind: BindMessage, refused?: AuditedDecision): void {
    this.tracker.bind(bind.portal, bind.statementName, bind.parameterFormats, bind.parameters, refused);
  }

  /** Execute and Sync. */
  clientMessage(code: number, message: Buffer): void {
    if (code === FrontendCode.Execute) this.tracker.execute(decodeExecute(message), message.length);
    else if (code === FrontendCode.Sync) this.tracker.sync();
  }

  /** `sqlstate`: the error the client actually gets (a refusal replaces the server's). */
  serverMessage(code: number, message: Buffer, sqlstate?: string): void {
    switch (code) {
      case BackendCode.CommandComplete:
        this.tracker.completed(message.toString('utf8', HEADER_LENGTH, message.length - 1));
        return;
      case BackendCode.EmptyQueryResponse:
        this.tracker.completed(undefined);
        return;
      case BackendCode.PortalSuspended:
        this.tracker.completed(undefined, true);
        return;
      case BackendCode.ErrorResponse:
        this.tracker.failed(sqlstate ?? '');
        return;
      case BackendCode.ReadyForQuery:
        this.tracker.ready();
    }
  }

  fromClient(bytes: number): void {
    this.tracker.bytesIn += bytes;
  }

  toClient(bytes: number): void {
    this.tracker.bytesOut += bytes;
  }
}
