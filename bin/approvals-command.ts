import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalApprovalStore } from '../fargate-proxy/src/approval/local-approval-store';

export class ApprovalsUsageError extends Error {}

const USAGE = `gatehouse approvals list [--home .gatehouse | --directory DIR] [--json]
gatehouse approvals (approve | deny) REQUEST --as APPROVER [--home .gatehouse | --directory DIR]`;

/**
 * `gatehouse approvals`: the requests waiting for an approver in a local gateway's approval store, and
 * the approver's answer. The approver must be one the request names; one decision per approver.
 */
export async function approvalsCommand(argv: string[], write: (text: string) => void): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      home: { type: 'string', default: '.gatehouse' },
      directory: { type: 'string' },
      as: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const store = new LocalApprovalStore(path.resolve(values.directory ?? path.join(values.home, 'approvals')));
  const now = Date.now() * 1000;
  switch (action) {
    case 'list': {
      const requests = store.requests().map((request) => ({ ...request, ...store.state(request, now) }));
      if (values.json) {
        write(`${JSON.stringify(requests, null, 2)}\n`);
        return 0;
      }
      if (requests.length === 0) write('no approval requests\n');
      for (const r of requests) {
        write(
          `${r.id}  ${r.state}  ${r.subject} on ${r.database}  rule ${r.rule}  approvers ${r.approvers.join(', ')}\n`,
        );
        write(`    ${r.text}\n`);
      }
      return 0;
    }
    case 'approve':
    case 'deny': {
      const id = positionals[0];
      if (!id) throw new ApprovalsUsageError(`name the request\n${USAGE}`);
      if (!values.as) throw new ApprovalsUsageError(`name the approver with --as\n${USAGE}`);
      const result = store.decide({
        request: id,
        approver: values.as,
        verdict: action === 'approve' ? 'approved' : 'denied',
        channel: 'cli',
        time: now,
      });
      if (!result.ok) {
        write(`${result.problem}\n`);
        return 1;
      }
      const request = store.request(id)!;
      write(
        `${id}: ${action === 'approve' ? 'approved' : 'denied'} by ${values.as}; now ${store.state(request, now).state}\n`,
      );
      return 0;
    }
    default:
      throw new ApprovalsUsageError(USAGE);
  }
}
