import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { JwtVerifier } from 'aws-jwt-verify';
import {
  JwtBaseError,
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  KidNotFoundInJwksError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';
import { type Fetcher, SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache, SimplePenaltyBox } from 'aws-jwt-verify/jwk';

/** Who a verified token says the workload is. */
export interface VerifiedIdentity {
  /** The token's `iss`. */
  issuer: string;
  /** The configuration's name for that issuer (policies may use either). */
  issuerName: string;
  subject: string;
  claims: Readonly<Record<string, unknown>>;
  /** The claims the issuer's configuration names as identifying (recorded in the audit trail). */
  identityClaims: Readonly<Record<string, unknown>>;
}

export type TokenRejection =
  | 'malformed'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-audience'
  | 'unknown-issuer'
  | 'bad-signature'
  | 'unknown-key'
  | 'missing-subject'
  | 'algorithm-not-allowed'
  | 'required-claim'
  | 'keys-unavailable';

/** A token that failed a check; `reason` says which, and is safe to show the client and to audit. */
export class TokenRejectedError extends Error {
  override readonly name = 'TokenRejectedError';
  constructor(
    readonly reason: TokenRejection,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedIdentity>;
  /** Loads the signing keys ahead of the first connection; true once they are held. */
  hydrate(): Promise<boolean>;
  readonly ready: boolean;
}

export interface IssuerSettings {
  /** Short name for policies and logs (`github`, `local`…). */
  name: string;
  issuer: string;
  audience: string | string[] | null;
  /** Claims every token must carry with one of the given values. */
  requiredClaims: Readonly<Record<string, string | readonly string[]>>;
  jwksUri: string;
  /** Signature algorithms accepted from this issuer; anything else is refused before any key work. */
  algorithms: string[];
  /** Leeway for exp/nbf, in seconds. */
  clockSkewSeconds: number;
  subjectClaim: string;
  identityClaims: string[];
  /** After an unknown `kid` made the gateway fetch the JWKS, how long before it may fetch again. */
  jwksRefetchSeconds: number;
}

/** Reads `file://` JWKS locations from disk and everything else over HTTPS. */
class FileOrHttpsFetcher implements Fetcher {
  private readonly https = new SimpleFetcher();
  async fetch(
    uri: string,
    requestOptions?: Record<string, unknown>,
    data?: ArrayBuffer,
  ): Promise<ArrayBuffer> {
    if (!uri.startsWith('file://')) return this.https.fetch(uri, requestOptions, data);
    const bytes = await readFile(fileURLToPath(uri));
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
}

function rejection(error: unknown): TokenRejectedError {
  if (error instanceof TokenRejectedError) return error;
  const message = (error as Error).message;
  if (error instanceof JwtExpiredError)
    return new TokenRejectedError('expired', 'token expired', { cause: error });
  if (error instanceof JwtNotBeforeError)
    return new TokenRejectedError('not-yet-valid', 'token not yet valid', { cause: error });
  if (error instanceof JwtInvalidAudienceError) {
    return new TokenRejectedError('wrong-audience', 'token audience is not accepted', { cause: error });
  }
  if (error instanceof JwtInvalidIssuerError)
    return new TokenRejectedError('unknown-issuer', 'token issuer is not trusted', { cause: error });
  if (error instanceof JwtInvalidSignatureError || error instanceof JwtInvalidSignatureAlgorithmError) {
    return new TokenRejectedError('bad-signature', 'token signature is invalid', { cause: error });
  }
  if (error instanceof KidNotFoundInJwksError || error instanceof WaitPeriodNotYetEndedJwkError) {
    return new TokenRejectedError('unknown-key', 'token is signed with a key the issuer does not publish', {
      cause: error,
    });
  }
  if (error instanceof JwtParseError)
    return new TokenRejectedError('malformed', 'password is not a well-formed JWT', { cause: error });
  if (error instanceof JwtBaseError)
    return new TokenRejectedError('malformed', `token rejected: ${message}`, { cause: error });
  return new TokenRejectedError('keys-unavailable', 'the issuer signing keys could not be loaded', {
    cause: error,
  });
}

/** The token's header and `iss`, decoded without verifying anything; undefined when not a JWT. */
function peek(token: string): { alg?: unknown; iss?: unknown } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: unknown };
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { iss?: unknown };
    return { alg: header?.alg, iss: payload?.iss };
  } catch {
    return undefined;
  }
}

interface ConfiguredIssuer {
  settings: IssuerSettings;
  verifier: ReturnType<typeof JwtVerifier.create>;
}

/**
 * Verifies tokens of the configured issuers with aws-jwt-verify. The issuer is chosen by the token's
 * `iss`; a token that is not a JWT, names an unknown issuer or an algorithm the issuer does not use is
 * refused before any signature or key work. Keys are cached per issuer and fetched again only for an
 * unknown `kid`, at most once per `jwksRefetchSeconds`, so forged key ids cannot make the gateway hammer
 * an issuer.
 */
export class JwksTokenVerifier implements TokenVerifier {
  private readonly issuers = new Map<string, ConfiguredIssuer>();
  private hydrated = false;

  constructor(issuers: readonly IssuerSettings[]) {
    const fetcher = new FileOrHttpsFetcher();
    for (const settings of issuers) {
      const jwksCache = new SimpleJwksCache({
        fetcher,
        penaltyBox: new SimplePenaltyBox({ waitSeconds: settings.jwksRefetchSeconds }),
      });
      const verifier = JwtVerifier.create(
        {
          issuer: settings.issuer,
          audience: settings.audience,
          jwksUri: settings.jwksUri,
          graceSeconds: settings.clockSkewSeconds,
        },
        { jwksCache },
      );
      this.issuers.set(settings.issuer, { settings, verifier });
    }
  }

  get ready(): boolean {
    return this.hydrated;
  }

  /** Loads every issuer's keys; ready only when all are held. */
  async hydrate(): Promise<boolean> {
    const results = await Promise.all(
      [...this.issuers.values()].map(({ verifier }) =>
        verifier.hydrate().then(
          () => true,
          () => false,
        ),
      ),
    );
    this.hydrated = results.every(Boolean);
    return this.hydrated;
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    const peeked = peek(token);
    if (!peeked) throw new TokenRejectedError('malformed', 'password is not a well-formed JWT');
    const configured = typeof peeked.iss === 'string' ? this.issuers.get(peeked.iss) : undefined;
    if (!configured) throw new TokenRejectedError('unknown-issuer', 'token issuer is not trusted');
    const { settings, verifier } = configured;
    if (typeof peeked.alg !== 'string' || !settings.algorithms.includes(peeked.alg)) {
      throw new TokenRejectedError(
        'algorithm-not-allowed',
        `token algorithm ${String(peeked.alg).slice(0, 16)} is not accepted from this issuer`,
      );
    }
    let payload: Record<string, unknown>;
    try {
      payload = (await verifier.verify(token)) as Record<string, unknown>;
    } catch (error) {
      throw rejection(error);
    }
    for (const [claim, allowed] of Object.entries(settings.requiredClaims)) {
      const value = payload[claim];
      const accepted = typeof allowed === 'string' ? [allowed] : allowed;
      if (typeof value !== 'string' || !accepted.includes(value)) {
        throw new TokenRejectedError(
          'required-claim',
          `token claim "${claim}" does not have an accepted value`,
        );
      }
    }
    const subject = payload[settings.subjectClaim];
    if (typeof subject !== 'string' || subject === '') {
      throw new TokenRejectedError(
        'missing-subject',
        `token has no "${settings.subjectClaim}" claim naming the identity`,
      );
    }
    const identityClaims: Record<string, unknown> = {};
    for (const claim of settings.identityClaims) if (claim in payload) identityClaims[claim] = payload[claim];
    return { issuer: settings.issuer, issuerName: settings.name, subject, claims: payload, identityClaims };
  }
}
