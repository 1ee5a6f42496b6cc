import type { Logger } from '../observability/logger';
import { type CredentialSource, parseCredentialSecret, type UpstreamCredential } from './credential-source';
import type { SecretReader } from './secret-reader';
import { UpstreamError } from './upstream-connection';

/**
 * After a refresh failed while a credential the server has not rejected was at hand, how long that
 * credential is used before the secret is asked for again: a Secrets Manager outage must neither stop
 * new sessions nor send one request per connection.
 */
const STALE_RETRY_MS = 5_000; // 5 seconds

export interface SecretsManagerCredentialSourceOptions {
  /** How long a credential read from the secret is used without asking again. */
  cacheMs: number;
  log: Logger;
  now?: () => number;
}

/**
 * The upstream credential from a secret in the shape of an RDS-managed one (Secrets Manager in AWS).
 * Read when first needed, kept for `cacheMs`, and read again at once after `invalidate` (the session
 * calls it when the server rejects the credential, and retries once), so a rotation is picked up by
 * the next connection without a restart and without reading the secret for every connection.
 */
export class SecretsManagerCredentialSource implements CredentialSource {
  private cached: { credential: UpstreamCredential; at: number } | undefined;
  private reading: Promise<UpstreamCredential> | undefined;
  /** Bumped by `invalidate`: a read that started before it must not refill the cache. */
  private generation = 0;
  private retryAfter = 0;
  private readonly now: () => number;

  constructor(
    private readonly secret: SecretReader,
    private readonly options: SecretsManagerCredentialSourceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get(): Promise<UpstreamCredential> {
    const now = this.now();
    const cached = this.cached;
    if (cached && (now - cached.at < this.options.cacheMs || now < this.retryAfter))
      return Promise.resolve(cached.credential);
    if (!this.reading) {
      const reading = this.read(this.generation).finally(() => {
        if (this.reading === reading) this.reading = undefined;
      });
      this.reading = reading;
    }
    return this.reading;
  }

  invalidate(): void {
    this.generation++;
    this.cached = undefined;
    this.reading = undefined;
    this.retryAfter = 0;
  }

  private async read(generation: number): Promise<UpstreamCredential> {
    const where = `upstream credential secret ${this.secret.name}`;
    try {
      let text: string;
      try {
        text = (await this.secret.read()).text;
      } catch (error) {
        throw new UpstreamError(
          'credentials',
          `cannot read ${where}: ${(error as Error).message}`,
          undefined,
          {
            cause: error,
          },
        );
      }
      const credential = parseCredentialSecret(text, where);
      if (generation === this.generation) {
        this.cached = { credential, at: this.now() };
        this.retryAfter = 0;
      }
      return credential;
    } catch (error) {
      // Expired but never rejected by the server: still the best credential there is.
      const stale = generation === this.generation ? this.cached : undefined;
      if (!stale) throw error;
      this.retryAfter = this.now() + STALE_RETRY_MS;
      this.options.log.warn('cannot refresh the upstream credential; the cached one stays in use', {
        secret: this.secret.name,
        error: (error as Error).message,
      });
      return stale.credential;
    }
  }
}
