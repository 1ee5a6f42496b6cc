import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Every acknowledgment recorded below `root`: construct path (relative to `base`), rule id, reason. */
export function acknowledgments(
  root: IConstruct,
  base: IConstruct = root,
): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path.replace(`${base.node.path}/`, ''),
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}
