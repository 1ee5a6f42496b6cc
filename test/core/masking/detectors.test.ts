import { detect } from '../../../core/masking/detectors';
import { detectingMasker, TypeOid } from '../../../core/masking/mask-values';

describe('value detectors', () => {
  it.each([
    ['123-45-6789', 'ssn'],
    ['card 4111 1111 1111 1111 on file', 'payment-card'],
    ['ada@example.com', 'email'],
    ['+1 (555) 010-9999', 'phone'],
    ['AKIAIOSFODNN7EXAMPLE', 'aws-access-key'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig', 'jwt'],
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIE', 'private-key'],
  ])('recognise %s', (text, detector) => {
    expect(detect(text)).toBe(detector);
  });

  it('let ordinary values through, and a digit run that fails the Luhn check is not a card', () => {
    for (const text of ['Ada Lovelace', '42', '2026-11-23', 'order 4111111111111112 shipped']) {
      expect([text, detect(text)]).toEqual([text, undefined]);
    }
  });

  it('mask what they recognise and hand back the same buffer otherwise', () => {
    const masker = detectingMasker(TypeOid.text, 0);
    const plain = Buffer.from('hello');
    expect(masker(plain)).toBe(plain);
    expect(masker(Buffer.from('ssn 123-45-6789'))?.toString()).toBe('****');
    // A binary integer cannot hold what the detectors look for.
    const binary = Buffer.alloc(4);
    expect(detectingMasker(TypeOid.int4, 1)(binary)).toBe(binary);
  });
});
