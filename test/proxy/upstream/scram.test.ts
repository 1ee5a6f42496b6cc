import { ScramError, startScram } from '../../../fargate-proxy/src/upstream/scram';

describe('SCRAM-SHA-256 client', () => {
  // RFC 7677, section 3: the published example exchange.
  const serverFirst =
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';

  it('produces the RFC 7677 client proof and accepts the RFC server signature', () => {
    const scram = startScram('pencil', 'rOprNGfwEbeRWgbNEkqO', 'user');
    expect(scram.clientFirst).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    expect(scram.continue(serverFirst)).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    expect(() => scram.finish('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).not.toThrow();
  });

  it('rejects a server that cannot prove it knows the password', () => {
    const scram = startScram('pencil', 'rOprNGfwEbeRWgbNEkqO', 'user');
    scram.continue(serverFirst);
    expect(() => scram.finish('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')).toThrow(ScramError);
  });

  it('rejects a server nonce that does not extend ours', () => {
    const scram = startScram('pencil', 'abc');
    expect(() => scram.continue('r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')).toThrow(ScramError);
    expect(() => scram.continue('r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')).toThrow(ScramError);
  });

  it('rejects a malformed server-first message', () => {
    expect(() => startScram('pencil', 'abc').continue('r=abcdef,i=0')).toThrow(ScramError);
  });
});
