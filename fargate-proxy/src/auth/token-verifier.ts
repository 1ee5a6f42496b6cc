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
} from 'aws-jwt-verify/error';
import { type Fetcher, SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';

/** Who a verified token says the workload is. */
export interface VerifiedIdentity {
  issuer: string;
  subject: string;
  claims: Readonly<Record<string, unknown>>;
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
  issuer: string;
  audience: string;
  jwksUri: string;
  subjectClaim: string;
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
  if (error instanceof KidNotFoundInJwksError) {
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

/**
 * Verifies tokens of one issuer with aws-jwt-verify. Keys are cached and fetched again only for an unknown
 * `kid`, never per connection. The next issue generalises this to several configured issuers.
 */
export class JwksTokenVerifier implements TokenVerifier {
  private readonly verifier;
  private hydrated = false;

  constructor(private readonly settings: IssuerSettings) {
    this.verifier = JwtVerifier.create(
      { issuer: settings.issuer, audience: settings.audience, jwksUri: settings.jwksUri },
      { jwksCache: new SimpleJwksCache({ fetcher: new FileOrHttpsFetcher() }) },
    );
  }

  get ready(): boolean {
    return this.hydrated;
  }

  async hydrate(): Promise<boolean> {
    try {
      await this.verifier.hydrate();
      this.hydrated = true;
    } catch {
      this.hydrated = false;
    }
    return this.hydrated;
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    let payload: Record<string, unknown>;
    try {
      payload = (await this.verifier.verify(token)) as Record<string, unknown>;
    } catch (error) {
      throw rejection(error);
    }
    const subject = payload[this.settings.subjectClaim];
    if (typeof subject !== 'string' || subject === '') {
      throw new TokenRejectedError(
        'missing-subject',
        `token has no "${this.settings.subjectClaim}" claim naming the identity`,
      );
    }
    return { issuer: this.settings.issuer, subject, claims: payload };
  }
}
