import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The local development token issuer: an RS256 signing key kept under `.gatehouse/issuer/`, its public
 * JWKS beside it (the gateway reads it as a file:// JWKS location), and a signer for `gatehouse token`.
 * It stands in for GitHub Actions, GitLab, EKS or Cognito in local mode; the gateway treats it as any
 * other OIDC issuer.
 */
export const LOCAL_ISSUER = 'https://issuer.gatehouse.local';
export const LOCAL_AUDIENCE = 'gatehouse';

export interface LocalIssuer {
  issuer: string;
  audience: string;
  jwksUri: string;
  sign(claims: TokenClaims, ttlSeconds: number): string;
}

export interface TokenClaims {
  sub: string;
  [claim: string]: unknown;
}

const base64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');

/** Loads the issuer under `directory`, creating its key pair the first time. */
export function openLocalIssuer(directory: string): LocalIssuer {
  const keyFile = path.join(directory, 'signing-key.pem');
  const jwksFile = path.join(directory, 'jwks.json');
  if (!existsSync(keyFile) || !existsSync(jwksFile)) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = randomUUID();
    const jwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
    writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(jwksFile, `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`);
  }
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const jwks = JSON.parse(readFileSync(jwksFile, 'utf8')) as { keys: Array<{ kid: string }> };
  const kid = jwks.keys[0]!.kid;
  return {
    issuer: LOCAL_ISSUER,
    audience: LOCAL_AUDIENCE,
    jwksUri: pathToFileURL(jwksFile).href,
    sign(claims, ttlSeconds) {
      const now = Math.floor(Date.now() / 1000);
      const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
      const payload = base64url(
        JSON.stringify({
          iss: LOCAL_ISSUER,
          aud: LOCAL_AUDIENCE,
          iat: now,
          nbf: now,
          exp: now + ttlSeconds,
          jti: randomUUID(),
          ...claims,
        }),
      );
      const signature = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey);
      return `${header}.${payload}.${base64url(signature)}`;
    },
  };
}

/** The gateway configuration entry that trusts a local issuer (named `local` for policies). */
export function localIssuerConfig(issuer: LocalIssuer) {
  return {
    name: 'local',
    issuer: issuer.issuer,
    audience: issuer.audience,
    jwksUri: issuer.jwksUri,
    algorithms: ['RS256' as const],
    identityClaims: ['repository'],
  };
}
