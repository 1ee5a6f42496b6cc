import { assessmentResults } from '../../../core/evidence/oscal-assessment-results';
import { OSCAL_VERSION, SSP_PATH } from '../../../core/evidence/oscal-common';
import { MODERATE_BASELINE_PROFILE, systemSecurityPlan } from '../../../core/evidence/oscal-ssp';
import {
  type Breakage,
  broken,
  controls,
  evidenceFixture,
  identityRules,
  oscalValidator,
  requireOscalSchema,
  scopes,
  withSummary,
} from './evidence-fixture';

function resolveInPackage(documentPath: string, href: string): string {
  const url = new URL(href, `file:///package/${documentPath}`);
  return decodeURIComponent(url.pathname).replace(/^\/package\//, '');
}

function build() {
  return systemSecurityPlan(evidenceFixture())['system-security-plan'];
}

function allUuids(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allUuids);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, member]) =>
    key === 'uuid' && typeof member === 'string' ? [member] : allUuids(member),
  );
}

describe('systemSecurityPlan: against the NIST OSCAL 1.0.6 schema', () => {
  const validator = oscalValidator('ssp');
  const withSchema = requireOscalSchema(validator) ? it : it.skip;
  const validate = (document: unknown) => {
    if (typeof validator !== 'function') throw new Error('no schema');
    return validator(document);
  };

  withSchema('the fixture builds a valid document', () => {
    const outcome = validate(systemSecurityPlan(evidenceFixture()));
    expect(outcome.errors).toBe('');
    expect(outcome.valid).toBe(true);
  });

  withSchema(
    'so do a policy without identity rules or approvals, and a grant missing from the scopes',
    () => {
      const empty = { ...evidenceFixture(), scopes: [], inventory: { identities: [], identityRules: [] } };
      const missing = { ...evidenceFixture(), scopes: scopes.slice(1) };
      for (const input of [empty, missing]) expect(validate(systemSecurityPlan(input)).errors).toBe('');
    },
  );

  // Each change breaks a rule of the schema, so the validation can fail.
  const breakages: [string, Breakage][] = [
    ['without users', { at: ['system-security-plan', 'system-implementation', 'users'], remove: true }],
    [
      'with a status OSCAL does not know',
      { at: ['system-security-plan', 'system-characteristics', 'status', 'state'], value: 'retired' },
    ],
    [
      'with an implemented requirement without a control id',
      {
        at: ['system-security-plan', 'control-implementation', 'implemented-requirements', 0, 'control-id'],
        remove: true,
      },
    ],
    [
      'with a user whose privilege performs no function',
      {
        at: [
          'system-security-plan',
          'system-implementation',
          'users',
          0,
          'authorized-privileges',
          0,
          'functions-performed',
        ],
        value: [],
      },
    ],
    ['without import-profile', { at: ['system-security-plan', 'import-profile'], remove: true }],
  ];
  withSchema.each(breakages)('a document %s fails', (_name, breakage) => {
    const outcome = validate(broken(systemSecurityPlan(evidenceFixture()), breakage));
    expect(outcome.valid).toBe(false);
    expect(outcome.errors).not.toBe('');
  });
});

describe('systemSecurityPlan: content', () => {
  it('imports the rev 5 moderate baseline and describes the gateway as an operational system', () => {
    const plan = build();
    expect(plan.metadata['oscal-version']).toBe(OSCAL_VERSION);
    expect(plan['import-profile'].href).toBe(MODERATE_BASELINE_PROFILE);
    expect(plan['import-profile'].href).toMatch(/NIST_SP-800-53_rev5_MODERATE-baseline_profile\.json$/);
    const system = plan['system-characteristics'];
    expect(system['system-name']).toBe('Gatehouse access gateway');
    expect(system.status.state).toBe('operational');
    expect(system['security-sensitivity-level']).toBe('moderate');
    expect(system['system-information']['information-types']).toHaveLength(1);
    expect(system['authorization-boundary'].description).toContain('Outside the boundary');
    const components = plan['system-implementation'].components;
    expect(components).toHaveLength(1);
    expect(components[0]!.type).toBe('this-system');
    expect(components[0]!.title).toBe('Gatehouse access gateway');
  });

  it('makes each identity rule a user, with a privilege per grant from its effective scope', () => {
    const users = build()['system-implementation'].users;
    const ruleUsers = users.filter((user) => user['role-ids'].includes('machine-identity'));
    expect(ruleUsers.map((user) => user['short-name'])).toEqual(identityRules.map((rule) => rule.name));
    ruleUsers.forEach((user, index) => {
      const rule = identityRules[index]!;
      expect(user['authorized-privileges']!.map((p) => p.title)).toEqual(
        rule.grants.map((grant) => `Grant ${grant}`),
      );
      expect(user.props).toContainEqual(expect.objectContaining({ name: 'issuer', value: rule.issuer }));
      expect(user.props).toContainEqual(
        expect.objectContaining({ name: 'unused', value: String(rule.unused) }),
      );
    });
    const release = ruleUsers[0]!['authorized-privileges']![0]!;
    expect(release['functions-performed']).toEqual(
      expect.arrayContaining([
        'connect to database orders as role orders_migrator',
        'write public.*',
        'execute function public.recalculate_*',
        'run statements of rule destructive-ddl once approved',
      ]),
    );
    expect(release.description).toContain('Denied relations: public.payment_tokens.');
    expect(release.description).toContain(
      'Rule unbounded-changes refuses: UPDATE and DELETE need a WHERE clause. Limits: statementTimeoutMs 600000.',
    );
    const reporting = ruleUsers[1]!['authorized-privileges']![0]!;
    expect(reporting['functions-performed']).toContain('read-only transactions only');
    expect(reporting['functions-performed']).not.toContain('write public.*');
    expect(reporting.description).toContain('crm.customers.ssn');
  });

  it('notes the unused rule and the identity no longer admitted', () => {
    const users = build()['system-implementation'].users;
    const batch = users.find((user) => user['short-name'] === 'nightly-batch')!;
    expect(batch.remarks).toMatch(/^Unused in the period/);
    const gitlab = users.find((user) => user['short-name'] === 'gitlab-exports')!;
    expect(gitlab.remarks).toContain('no longer admitted');
    expect(gitlab.remarks).toContain('project_path:acme/exports:ref_type:branch:ref:main');
    const reporting = users.find((user) => user['short-name'] === 'reporting-service')!;
    expect(reporting.remarks).toBeUndefined();
  });

  it('makes each approver a user with the approvals it may give', () => {
    const approvers = build()['system-implementation'].users.filter((user) =>
      user['role-ids'].includes('approver'),
    );
    expect(approvers.map((user) => user['short-name'])).toEqual(['dba', 'alice@acme.example']);
    expect(approvers[0]!['authorized-privileges']![0]!['functions-performed']).toEqual([
      'approve statements of rule destructive-ddl under grant release-migrations (1 needed, within 900 s, covering statement)',
      'approve statements of rule truncate under grant batch-etl (2 needed, within 3600 s, covering elevation)',
    ]);
  });

  it('states how Gatehouse implements each control, linking its evidence files', () => {
    const plan = build();
    const component = plan['system-implementation'].components[0]!;
    const requirements = plan['control-implementation']['implemented-requirements'];
    expect(requirements.map((r) => r['control-id'])).toEqual(
      controls.map((status) => status.control.toLowerCase()),
    );
    requirements.forEach((requirement, index) => {
      const status = controls[index]!;
      expect(requirement['by-components']).toHaveLength(1);
      const statement = requirement['by-components'][0]!;
      expect(statement['component-uuid']).toBe(component.uuid);
      expect(statement['implementation-status'].state).toBe('implemented');
      expect((statement.links ?? []).map((link) => resolveInPackage(SSP_PATH, link.href))).toEqual(
        status.evidence,
      );
      expect(statement.remarks).toContain(status.status);
      expect(statement.description.length).toBeGreaterThan(80);
    });
    const au9 = requirements.find((r) => r['control-id'] === 'au-9')!['by-components'][0]!;
    expect(au9.description).toContain('hash chain');
    expect(au9.remarks).toContain('not-satisfied');
    expect(requirements.find((r) => r['control-id'] === 'au-10')!.remarks).toContain('MODERATE baseline');
  });

  it('keeps the references the JSON schema cannot check consistent', () => {
    const plan = build();
    const uuids = allUuids(plan);
    expect(new Set(uuids).size).toBe(uuids.length);
    const roles = new Set(plan.metadata.roles.map((role) => role.id));
    for (const user of plan['system-implementation'].users)
      for (const role of user['role-ids']) expect(roles).toContain(role);
    const parties = new Set(plan.metadata.parties.map((party) => party.uuid));
    for (const responsible of plan.metadata['responsible-parties'])
      for (const party of responsible['party-uuids']) expect(parties).toContain(party);
    const components = new Set(plan['system-implementation'].components.map((c) => c.uuid));
    for (const requirement of plan['control-implementation']['implemented-requirements'])
      for (const statement of requirement['by-components'])
        expect(components).toContain(statement['component-uuid']);
  });

  it('is deterministic, and shares the export seed with the assessment results', () => {
    const once = JSON.stringify(systemSecurityPlan(evidenceFixture()));
    expect(JSON.stringify(systemSecurityPlan(evidenceFixture()))).toBe(once);
    const other = systemSecurityPlan(withSummary(() => ({ generatedAt: '2026-11-09T00:00:00Z' })));
    expect(other['system-security-plan'].uuid).not.toBe(JSON.parse(once)['system-security-plan'].uuid);
    const ar = assessmentResults(evidenceFixture())['assessment-results'];
    expect(ar.uuid).not.toBe(JSON.parse(once)['system-security-plan'].uuid);
  });

  it('states a placeholder user when the policy admits nobody, and an unknown scope plainly', () => {
    const empty = systemSecurityPlan({
      ...evidenceFixture(),
      scopes: [],
      inventory: { identities: [], identityRules: [] },
    });
    expect(empty['system-security-plan']['system-implementation'].users).toEqual([
      expect.objectContaining({
        title: 'Machine identities (none admitted)',
        'role-ids': ['machine-identity'],
      }),
    ]);
    const missing = systemSecurityPlan({ ...evidenceFixture(), scopes: scopes.slice(1) });
    const release = missing['system-security-plan']['system-implementation'].users[0]!;
    expect(release['authorized-privileges']![0]!['functions-performed']).toEqual([
      'unknown: the effective scope is not stated',
    ]);
  });
});
