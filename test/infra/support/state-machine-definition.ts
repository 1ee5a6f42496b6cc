/**
 * The Amazon States Language of the one state machine in a synthesized template. CDK writes
 * `DefinitionString` as an `Fn::Join` of JSON text and CloudFormation tokens (`Ref`, `Fn::GetAtt`);
 * the tokens are replaced with fake but well-formed values so the result parses and validates.
 */

export const FAKE_ACCOUNT = '123456789012';
export const FAKE_REGION = 'eu-west-1';

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': FAKE_REGION,
  'AWS::AccountId': FAKE_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface SynthesizedTemplate {
  readonly Resources: Record<string, TemplateResource>;
}

/** ARN of a resource by its CloudFormation type, named after its logical id. */
function fakeArn(logicalId: string, type: string): string {
  const at = `${FAKE_REGION}:${FAKE_ACCOUNT}`;
  switch (type) {
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${at}:function:${logicalId}`;
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${at}:table/${logicalId}`;
    case 'AWS::KMS::Key':
      return `arn:aws:kms:${at}:key/${logicalId}`;
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${at}:log-group:${logicalId}:*`;
    default:
      return `arn:aws:${type.split('::')[1]?.toLowerCase() ?? 'unknown'}:${at}:${logicalId}`;
  }
}

function resourceOf(template: SynthesizedTemplate, logicalId: string): TemplateResource {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`the definition refers to ${logicalId}, which is not in the template`);
  return resource;
}

/** The value CloudFormation would substitute for one token of the join. */
function substitute(template: SynthesizedTemplate, part: unknown): string {
  if (typeof part === 'string') return part;
  if (part && typeof part === 'object') {
    if ('Ref' in part && typeof part.Ref === 'string') {
      const pseudo = PSEUDO_PARAMETERS[part.Ref];
      if (pseudo !== undefined) return pseudo;
      const { Type } = resourceOf(template, part.Ref);
      // Ref of a function or table is its name; of anything else here, take the ARN.
      return Type === 'AWS::Lambda::Function' || Type === 'AWS::DynamoDB::Table'
        ? part.Ref
        : fakeArn(part.Ref, Type);
    }
    if ('Fn::GetAtt' in part && Array.isArray(part['Fn::GetAtt'])) {
      const [logicalId, attribute] = part['Fn::GetAtt'] as [string, string];
      if (attribute !== 'Arn')
        throw new Error(`unexpected Fn::GetAtt ${logicalId}.${attribute} in the definition`);
      return fakeArn(logicalId, resourceOf(template, logicalId).Type);
    }
  }
  throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
}

/** The state machine's definition as JSON, tokens replaced; throws unless there is exactly one. */
export function stateMachineDefinition(template: SynthesizedTemplate): Record<string, unknown> {
  const machines = Object.values(template.Resources).filter(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const definition = machines[0]?.Properties?.DefinitionString;
  if (typeof definition === 'string') return JSON.parse(definition) as Record<string, unknown>;
  const join = (definition as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  if (!join) throw new Error('DefinitionString is neither a string nor an Fn::Join');
  const [separator, parts] = join;
  return JSON.parse(parts.map((p) => substitute(template, p)).join(separator)) as Record<string, unknown>;
}
