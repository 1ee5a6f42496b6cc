import { AUDITED_CLIENT_CODES, AUDITED_SERVER_CODES, type RelayAudit } from '../audit/relay-audit';
import { BackendCode, FrontendCode } from '../protocol/codes';
import type { StatementGate } from './statement-gate';

/** Client messages result masking follows (besides Query and Parse, which the gate sees). */
const MASKING_CLIENT_CODES = [
  FrontendCode.Bind,
  FrontendCode.Describe,
  FrontendCode.Execute,
  FrontendCode.Close,
  FrontendCode.Sync,
];

/** Server messages result masking follows: what answers each client message, and the rows. */
const MASKING_SERVER_CODES = [
  BackendCode.ParseComplete,
  BackendCode.BindComplete,
  BackendCode.CloseComplete,
  BackendCode.NoData,
  BackendCode.RowDescription,
  BackendCode.DataRow,
  BackendCode.CopyOutResponse,
  BackendCode.CopyData,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  // Errors and notices can echo stored values (a unique violation's key): scrubbed.
  BackendCode.NoticeResponse,
];

/** Server messages the row limit looks at: rows, and the ends of a statement. */
const ROW_LIMIT_CODES = [
  BackendCode.DataRow,
  BackendCode.CopyData,
  BackendCode.CopyDone,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
];

/**
 * The client messages the conversation must see whole; the framer forwards the rest as received.
 * Terminate and FunctionCall always; statements when a gate or the audit looks at them; what the
 * audit and result masking follow when they are on.
 */
export function clientMessagesInspected(
  gate: StatementGate | undefined,
  audit: RelayAudit | undefined,
): Set<number> {
  const inspected = new Set<number>([FrontendCode.Terminate, FrontendCode.FunctionCall]);
  if (gate || audit) {
    inspected.add(FrontendCode.Query);
    inspected.add(FrontendCode.Parse);
    if (gate?.onExecute) inspected.add(FrontendCode.Execute);
  }
  if (audit) for (const code of AUDITED_CLIENT_CODES) inspected.add(code);
  if (gate?.masking) for (const code of MASKING_CLIENT_CODES) inspected.add(code);
  return inspected;
}

/**
 * The server messages the conversation must see: batch ends and errors always, and what the row
 * limit, the audit and masking follow.
 */
export function serverMessagesInspected(
  gate: StatementGate | undefined,
  audit: RelayAudit | undefined,
): Set<number> {
  const inspected = new Set<number>([BackendCode.ReadyForQuery, BackendCode.ErrorResponse]);
  if (gate?.maxRows !== undefined) {
    for (const code of ROW_LIMIT_CODES) inspected.add(code);
  }
  if (audit) for (const code of AUDITED_SERVER_CODES) inspected.add(code);
  if (gate?.masking) for (const code of MASKING_SERVER_CODES) inspected.add(code);
  return inspected;
}
