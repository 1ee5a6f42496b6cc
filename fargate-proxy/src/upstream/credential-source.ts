import { readFile } from 'node:fs/promises';
import { UpstreamError } from './upstream-connection';

/** The role and password the gateway uses upstream. The client never sees either. */
export interface UpstreamCredential {
  user: string;
  password: string;
}

/**
 * Where upstream credentials come from. Implementations cache; `invalidate` is called when the server
 * rejects a credential, so a rotated secret is picked up without a restart. `get` rejects with an
 * UpstreamError of failure `credentials` when no credential can be had (the client sees 08006; the
 * log says why).
 */
export interface CredentialSource {
  get(): Promise<UpstreamCredential>;
  invalidate(): void;
}

/**
 * Reads `{"username": "...", "password": "..."}`, the shape of an RDS-managed secret (whose `host`,
 * `port`, `engine` and other fields are ignored). Errors name `where` but never quote the text: it
 * holds a password.
 */
export function parseCredentialSecret(text: string, where: string): UpstreamCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input; the input is the secret.
    throw new UpstreamError('credentials', `${where} is not JSON`);
  }
  const fields = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (typeof fields.username !== 'string' || typeof fields.password !== 'string' || !fields.username)
    throw new UpstreamError('credentials', `${where} must hold {"username": string, "password": string}`);
  return { user: fields.username, password: fields.password };
}

/** A fixed credential (local mode, or a password injected into the environment). */
export class StaticCredentialSource implements CredentialSource {
  constructor(private readonly credential: UpstreamCredential) {}
  async get(): Promise<UpstreamCredential> {
    return this.credential;
  }
  invalidate(): void {}
}

/** A JSON file in the shape of an RDS-managed secret, re-read after `invalidate`. */
export class FileCredentialSource implements CredentialSource {
  private cached: Promise<UpstreamCredential> | undefined;

  constructor(private readonly file: string) {}

  get(): Promise<UpstreamCredential> {
    this.cached ??= this.read();
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async read(): Promise<UpstreamCredential> {
    try {
      let text: string;
      try {
        text = await readFile(this.file, 'utf8');
      } catch (error) {
        throw new UpstreamError(
          'credentials',
          `cannot read upstream credential file ${this.file}: ${(error as Error).message}`,
          undefined,
          { cause: error },
        );
      }
      return parseCredentialSecret(text, `upstream credential file ${this.file}`);
    } catch (error) {
      this.cached = undefined;
      throw error;
    }
  }
}
