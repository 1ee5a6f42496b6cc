import type { ApprovalRecord } from '../../../core/approval/approval-items';
import type { ApprovalEventRecord } from '../../../core/audit/records';

/** An approval event as the session hands it to its audit trail (the writer adds time and chain). */
export type ApprovalEvent = Omit<
  ApprovalEventRecord,
  'v' | 'seq' | 'prev' | 'hash' | 'writer' | 'session' | 'time' | 'type'
>;

/** The audit event for a request: when opened, what it asks; when ended, who was told and who decided. */
export function approvalEvent(record: ApprovalRecord, event: ApprovalEvent['event']): ApprovalEvent {
  const { request } = record;
  const common = { id: request.id, event, grant: request.grant, rule: request.rule };
  if (event === 'requested') {
    return {
      ...common,
      reason: request.reason,
      binding: request.binding,
      approvers: [...request.approvers],
      needed: request.needed,
      expires: request.expires,
    };
  }
  return {
    ...common,
    notifications: record.notifications.map(({ channel, to, time }) => ({ channel, to, time })),
    decisions: record.decisions.map(({ approver, verdict, channel, time }) => ({
      approver,
      verdict,
      channel,
      time,
    })),
  };
}
