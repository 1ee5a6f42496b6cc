import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

/**
 * CloudWatch Logs encrypts a log group with a customer key only if the key policy lets the regional
 * Logs service use it. The statement is scoped by the encryption context to one log group when its
 * name is known, else to this account's and region's log groups. A no-op for an imported key, whose
 * policy must allow it already. `sid` keeps each caller's statement apart in the key policy.
 */
export function allowLogsToUseKey(
  key: kms.IKey,
  stack: Stack,
  options: { readonly sid: string; readonly logGroupName?: string },
): void {
  const arn = `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:${options.logGroupName ?? '*'}`;
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: options.sid,
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
        'kms:GenerateDataKey',
        'kms:DescribeKey',
      ],
      resources: ['*'],
      conditions: options.logGroupName
        ? { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': arn } }
        : { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': arn } },
    }),
  );
}
