import { type Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A policy resource as cdk-nag names it in a finding id (`AwsSolutions-IAM5[Resource::…]`): the resolved
 * value with `Fn::Join` joined, `Fn::GetAtt` as `<Id.Attr>` and `Ref` as `<Id>`.
 */
export function nagResourceName(stack: Stack, value: string): string {
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node;
    if (node && typeof node === 'object') {
      const fn = node as Record<string, unknown>;
      if (Array.isArray(fn['Fn::Join'])) {
        const [delimiter, items] = fn['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (Array.isArray(fn['Fn::GetAtt'])) {
        const [id, attribute] = fn['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(id)}.${visit(attribute)}>`;
      }
      if ('Ref' in fn) return `<${visit(fn.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(stack.resolve(value));
}

/** The parts of the service that carry an acknowledgment. */
export interface GatewayNagParts {
  readonly taskRole: iam.Role;
  readonly executionRole: iam.Role;
  /** The audit prefix's objects as cdk-nag names them, e.g. `<AuditBucket.Arn>/audit/*`. */
  readonly auditObjects: string;
  /** The audit log group's ARN as cdk-nag names it, when the task role writes to one. */
  readonly auditLogGroup?: string;
}

/**
 * The cdk-nag (v3) findings that stand by design, each acknowledged on the role it concerns with the
 * reason it stands; everything else is fixed in the construct. Findings are looked up on the resource
 * and its ancestors, so nothing here reaches beyond the role.
 */
export function acknowledgeGatewayFindings(parts: GatewayNagParts): void {
  const { taskRole, executionRole } = parts;
  for (const role of [taskRole, executionRole]) {
    Validations.of(role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason:
        'CDK writes grants as this role’s own policy, created, changed and deleted with the role and attachable to ' +
        'nothing else; every statement in it is scoped to the gateway’s resources.',
    });
  }
  Validations.of(executionRole).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'ecr:GetAuthorizationToken, which ECS needs to pull the image, has no resource-level permissions; the ' +
      'image pull itself (BatchGetImage…) is granted on the image’s repository only.',
  });
  Validations.of(taskRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${parts.auditObjects}]`,
    reason:
      'The gateway names each sealed audit file after its writer and sequence (<prefix><writer>/<name>), so it ' +
      'may put any key below the audit prefix, and only there; Object Lock keeps every version it puts.',
  });
  // An imported log group's ARN ends in `:*` (its streams); a log group of this stack is a GetAtt.
  if (parts.auditLogGroup?.includes('*')) {
    Validations.of(taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${parts.auditLogGroup}]`,
      reason:
        'Log streams of the audit log group: the gateway creates one stream per writer and puts events into it; ' +
        'the grant covers that one log group.',
    });
  }
}
