import {
  GATEHOUSE_UUID_NAMESPACE,
  isoTimestamp,
  microsToIso,
  oscalString,
  oscalUuid,
  packageHref,
  uuidV5,
} from '../../../core/evidence/oscal-common';

describe('uuidV5', () => {
  it('matches RFC 4122 version 5 (the DNS namespace vector)', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
    expect(GATEHOUSE_UUID_NAMESPACE).toBe('16774f6d-f3ad-5942-a547-aa51ddf52879');
  });

  it('derives distinct, schema-conforming UUIDs from a seed and parts, unambiguously', () => {
    const oscalPattern =
      /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[45][0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$/;
    const a = oscalUuid('seed', 'finding', 'AU-9');
    expect(a).toMatch(oscalPattern);
    expect(oscalUuid('seed', 'finding', 'AU-9')).toBe(a);
    expect(oscalUuid('seed', 'finding', 'AU-10')).not.toBe(a);
    expect(oscalUuid('seed', 'finding,AU-9')).not.toBe(a);
  });
});

describe('times and links', () => {
  it('writes microseconds as UTC ISO 8601, keeping them when there are any', () => {
    const micros = Date.parse('2026-11-01T00:00:00Z') * 1000;
    expect(microsToIso(micros)).toBe('2026-11-01T00:00:00.000Z');
    expect(microsToIso(micros + 1_234_567)).toBe('2026-11-01T00:00:01.234567Z');
    expect(() => microsToIso(1.5)).toThrow('not a time in microseconds');
    expect(isoTimestamp('2026-11-08T01:05:12+01:00')).toBe('2026-11-08T00:05:12.000Z');
    expect(() => isoTimestamp('yesterday')).toThrow('not a timestamp');
  });

  it("makes OSCAL's one-line non-empty strings", () => {
    expect(oscalString('  two\n lines\t ')).toBe('two lines');
    expect(oscalString(' ')).toBe('(empty)');
  });

  it('links from a document to a package file relative to the document', () => {
    expect(packageHref('oscal/assessment-results.json', 'audit/records.jsonl')).toBe(
      '../audit/records.jsonl',
    );
    expect(packageHref('oscal/ssp.json', 'oscal/assessment-results.json')).toBe('assessment-results.json');
    expect(packageHref('oscal/ssp.json', 'a file#1.json')).toBe('../a%20file%231.json');
  });
});
