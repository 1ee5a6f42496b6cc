import { assessmentResults } from '../../../core/evidence/oscal-assessment-results';
import { ASSESSMENT_RESULTS_PATH, OSCAL_VERSION } from '../../../core/evidence/oscal-common';
import { systemSecurityPlan } from '../../../core/evidence/oscal-ssp';
import {
  type Breakage,
  broken,
  controls,
  evidenceFixture,
  oscalValidator,
  requireOscalSchema,
  withSummary,
} from './evidence-fixture';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A link of a package document resolved against the document's own place in the package. */
function resolveInPackage(documentPath: string, href: string): string {
  const url = new URL(href, `file:///package/${documentPath}`);
  return decodeURIComponent(url.pathname).replace(/^\/package\//, '');
}

function build() {
  return assessmentResults(evidenceFixture())['assessment-results'];
}

/** Every `uuid` member anywhere in a document. */
function allUuids(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allUuids);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, member]) =>
    key === 'uuid' && typeof member === 'string' ? [member] : allUuids(member),
  );
}

describe('assessmentResults: against the NIST OSCAL 1.0.6 schema', () => {
  const validator = oscalValidator('assessmentResults');
  const withSchema = requireOscalSchema(validator) ? it : it.skip;
  const validate = (document: unknown) => {
    if (typeof validator !== 'function') throw new Error('no schema');
    return validator(document);
  };

  withSchema('the fixture builds a valid document', () => {
    const outcome = validate(assessmentResults(evidenceFixture()));
    expect(outcome.errors).toBe('');
    expect(outcome.valid).toBe(true);
  });

  withSchema('so do a clean period (no risk), a control without evidence, and microsecond bounds', () => {
    const clean = withSummary((summary) => ({
      verification: { ...summary.verification, ok: true, problems: [] },
      controls: summary.controls.map((status) => ({ ...status, status: 'satisfied' as const })),
    }));
    expect(assessmentResults(clean)['assessment-results'].results[0]!.risks).toBeUndefined();
    const bare = withSummary((summary) => ({
      period: {
        ...summary.period,
        fromMicros: summary.period.fromMicros + 7,
        toMicros: summary.period.toMicros - 1,
      },
      controls: [{ ...summary.controls[0]!, evidence: [] }],
    }));
    for (const input of [clean, bare]) expect(validate(assessmentResults(input)).errors).toBe('');
  });

  // Each change breaks a rule of the schema, so the validation can fail.
  const breakages: [string, Breakage][] = [
    ['without import-ap', { at: ['assessment-results', 'import-ap'], remove: true }],
    [
      'with a finding state OSCAL does not know',
      {
        at: ['assessment-results', 'results', 0, 'findings', 0, 'target', 'status', 'state'],
        value: 'satisfied-with-findings',
      },
    ],
    [
      'with a UUID that is not one',
      { at: ['assessment-results', 'results', 0, 'observations', 0, 'uuid'], value: 'ac-2-observation' },
    ],
    [
      'with an observation without methods',
      { at: ['assessment-results', 'results', 0, 'observations', 0, 'methods'], remove: true },
    ],
    [
      'with a member the model does not have',
      { at: ['assessment-results', 'results', 0, 'status'], value: 'done' },
    ],
    [
      'with a time without a timezone',
      { at: ['assessment-results', 'metadata', 'last-modified'], value: '2026-11-08T00:05:12' },
    ],
    ['without results', { at: ['assessment-results', 'results'], value: [] }],
  ];
  withSchema.each(breakages)('a document %s fails', (_name, breakage) => {
    const outcome = validate(broken(assessmentResults(evidenceFixture()), breakage));
    expect(outcome.valid).toBe(false);
    expect(outcome.errors).not.toBe('');
  });
});

describe('assessmentResults: content', () => {
  it('declares OSCAL 1.0.6, the period as the one result, and every control as reviewed', () => {
    const document = build();
    expect(document.metadata['oscal-version']).toBe(OSCAL_VERSION);
    expect(document.metadata['last-modified']).toBe('2026-11-08T00:05:12.345Z');
    expect(document.results).toHaveLength(1);
    const result = document.results[0]!;
    expect(result.start).toBe('2026-11-01T00:00:00.000Z');
    expect(result.end).toBe('2026-11-08T00:00:00.000Z');
    expect(result['reviewed-controls']['control-selections']).toEqual([
      { 'include-controls': controls.map((status) => ({ 'control-id': status.control.toLowerCase() })) },
    ]);
    expect(
      result['reviewed-controls']['control-selections'][0]!['include-controls'].map((c) => c['control-id']),
    ).toEqual(expect.arrayContaining(['ac-2', 'au-9', 'au-10', 'sc-28']));
  });

  it('has one finding per control, on its objective, with the computed state', () => {
    const { findings } = build().results[0]!;
    expect(findings).toHaveLength(controls.length);
    const expected = {
      satisfied: 'satisfied',
      'not-satisfied': 'not-satisfied',
      'satisfied-with-findings': 'satisfied',
    };
    const reasons = { satisfied: 'pass', 'not-satisfied': 'fail', 'satisfied-with-findings': 'other' };
    controls.forEach((status, index) => {
      const finding = findings[index]!;
      expect(finding.target.type).toBe('objective-id');
      expect(finding.target['target-id']).toBe(`${status.control.toLowerCase()}_obj`);
      expect(finding.target.status.state).toBe(expected[status.status]);
      expect(finding.target.status.reason).toBe(reasons[status.status]);
      expect(finding.description).toBe(status.reason);
      expect(finding.props).toContainEqual(
        expect.objectContaining({ name: 'control-status', value: status.status }),
      );
    });
  });

  it('makes AU-9 not satisfied, with an open risk naming the verification problem', () => {
    const result = build().results[0]!;
    const finding = result.findings.find((f) => f.target['target-id'] === 'au-9_obj')!;
    expect(finding.target.status.state).toBe('not-satisfied');
    expect(finding['related-risks']).toHaveLength(1);
    const risk = result.risks!.find((r) => r.uuid === finding['related-risks']![0]!['risk-uuid'])!;
    expect(risk.status).toBe('open');
    expect(risk.title).toContain('AU-9');
    expect(risk.description).toContain('chain-break');
    expect(risk.description).toContain('record 42 does not chain to record 41');
    expect(risk.statement).toMatch(/altered, removed or inserted/);
    expect(risk.props).toContainEqual(
      expect.objectContaining({ name: 'verification-problem', value: 'chain-break' }),
    );
    // A risk for each control not satisfied, none for the others.
    expect(result.risks!.map((r) => r.props![0]!.value)).toEqual(['AU-9', 'AU-10']);
  });

  it('keeps satisfied-with-findings as satisfied, with a remark and the observation typed finding, and no risk', () => {
    const result = build().results[0]!;
    const finding = result.findings.find((f) => f.target['target-id'] === 'ac-2_obj')!;
    expect(finding.target.status).toEqual({
      state: 'satisfied',
      reason: 'other',
      remarks: expect.stringContaining('no longer admitted'),
    });
    expect(finding['related-risks']).toBeUndefined();
    const observation = result.observations.find(
      (o) => o.uuid === finding['related-observations']![0]!['observation-uuid'],
    )!;
    expect(observation.types).toEqual(['control-objective', 'finding']);
    expect(observation.description).toContain('project_path:acme/exports:ref_type:branch:ref:main');
    expect(observation.description).toContain('nightly-batch');
  });

  it("links each observation's evidence to the package paths its control names", () => {
    const { observations } = build().results[0]!;
    expect(observations).toHaveLength(controls.length);
    controls.forEach((status, index) => {
      const evidence = observations[index]!['relevant-evidence'] ?? [];
      expect(evidence.map((item) => resolveInPackage(ASSESSMENT_RESULTS_PATH, item.href!))).toEqual(
        status.evidence,
      );
      expect(evidence.map((item) => item.props![0]!.value)).toEqual(status.evidence);
      for (const item of evidence) expect(item.href!.startsWith('../')).toBe(true);
    });
    const au2 = observations.find((o) => o.props![0]!.value === 'AU-2')!;
    expect(au2['relevant-evidence']).toEqual([
      {
        href: '../audit/records.jsonl',
        description: 'Every audit record of the period, as stored',
        props: [{ name: 'package-path', ns: 'https://gatehouse.dev/ns/oscal', value: 'audit/records.jsonl' }],
      },
    ]);
  });

  it('uses OSCAL observation methods: TEST for the integrity verification, EXAMINE otherwise', () => {
    const { observations } = build().results[0]!;
    const method = Object.fromEntries(observations.map((o) => [o.props![0]!.value, o.methods]));
    expect(method['AU-9']).toEqual(['TEST']);
    expect(method['AU-10']).toEqual(['TEST']);
    expect(method['AC-2']).toEqual(['EXAMINE']);
    for (const o of observations)
      for (const m of o.methods) expect(['EXAMINE', 'INTERVIEW', 'TEST', 'UNKNOWN']).toContain(m);
    for (const o of observations) expect(o.collected).toBe('2026-11-08T00:05:12.345Z');
  });

  it('keeps the references the JSON schema cannot check consistent', () => {
    const document = build();
    const result = document.results[0]!;
    const uuids = allUuids(document);
    expect(new Set(uuids).size).toBe(uuids.length);
    for (const uuid of uuids) expect(uuid).toMatch(UUID);

    const observationIds = new Set(result.observations.map((o) => o.uuid));
    const riskIds = new Set((result.risks ?? []).map((r) => r.uuid));
    for (const finding of result.findings) {
      for (const related of finding['related-observations'] ?? [])
        expect(observationIds).toContain(related['observation-uuid']);
      for (const related of finding['related-risks'] ?? []) expect(riskIds).toContain(related['risk-uuid']);
    }
    for (const risk of result.risks ?? [])
      for (const related of risk['related-observations'] ?? [])
        expect(observationIds).toContain(related['observation-uuid']);

    const component = result['local-definitions'].components[0]!;
    for (const item of [...result.observations, ...result.findings, ...(result.risks ?? [])])
      for (const origin of item.origins ?? [])
        expect(origin.actors).toEqual([{ type: 'tool', 'actor-uuid': component.uuid }]);
    for (const observation of result.observations)
      expect(observation.subjects).toEqual([{ 'subject-uuid': component.uuid, type: 'component' }]);

    // import-ap names the back-matter resource standing for the plan, which links to controls.json.
    const resource = document['back-matter'].resources.find(
      (r) => `#${r.uuid}` === document['import-ap'].href,
    )!;
    expect(resource).toBeDefined();
    expect(resource.rlinks!.map((link) => resolveInPackage(ASSESSMENT_RESULTS_PATH, link.href))).toEqual([
      'controls.json',
    ]);

    const roles = new Set(document.metadata.roles.map((role) => role.id));
    const parties = new Set(document.metadata.parties.map((party) => party.uuid));
    for (const responsible of document.metadata['responsible-parties']) {
      expect(roles).toContain(responsible['role-id']);
      for (const party of responsible['party-uuids']) expect(parties).toContain(party);
    }
  });

  it("names the SSP's statement of each control as the finding's implementation statement", () => {
    const input = evidenceFixture();
    const plan = systemSecurityPlan(input)['system-security-plan'];
    const result = assessmentResults(input)['assessment-results'].results[0]!;
    const statements = new Map(
      plan['control-implementation']['implemented-requirements'].map((r) => [
        r['control-id'],
        r['by-components'][0]!,
      ]),
    );
    for (const finding of result.findings) {
      const controlId = finding.target['target-id'].replace(/_obj$/, '');
      expect(finding['implementation-statement-uuid']).toBe(statements.get(controlId)!.uuid);
    }
    expect(result['local-definitions'].components[0]!.uuid).toBe(
      plan['system-implementation'].components[0]!.uuid,
    );
  });

  it('is deterministic: the same input gives the same JSON, another export other UUIDs', () => {
    const once = JSON.stringify(assessmentResults(evidenceFixture()));
    expect(JSON.stringify(assessmentResults(evidenceFixture()))).toBe(once);
    const later = assessmentResults(withSummary(() => ({ generatedAt: '2026-11-08T00:06:00.000Z' })));
    expect(later['assessment-results'].uuid).not.toBe(JSON.parse(once)['assessment-results'].uuid);
    expect(later['assessment-results'].results[0]!.findings[0]!.uuid).not.toBe(
      JSON.parse(once)['assessment-results'].results[0].findings[0].uuid,
    );
  });

  it('refuses a summary that names no control, or one control twice', () => {
    expect(() => assessmentResults(withSummary(() => ({ controls: [] })))).toThrow('names no control');
    expect(() =>
      assessmentResults(withSummary((s) => ({ controls: [s.controls[0]!, s.controls[0]!] }))),
    ).toThrow('names control AC-2 twice');
  });
});
