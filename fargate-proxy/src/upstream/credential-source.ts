import { readFile } from 'node:fs/promises';

/** The role and password the gateway uses upstream. The client never sees either. */
export interface UpstreamCredential {
  user: string;
  password: string;
}

/**
 * Where upstream credentials come from. Implementations cache; `invalidate` is called when the server
 * rejects a credential, so a rotated secret is picked up without a restart.
 */
export interface CredentialSource {
  get(): Promise<UpstreamCredential>;
  invalidate(): void;
}

/** A fixed credential (local mode, or a password injected into the environment). */
export class StaticCredentialSource implements CredentialSource {
  constructor(private readonly credential: UpstreamCredential) {}
  async get(): Promise<UpstreamCredential> {
    return this.credential;
  }
  invalidate(): void {}
}

/**
 * A JSON file `{"username": "...", "password": "..."}` (the shape of an RDS-managed secret), re-read
 * after `invalidate`.
 */
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
    let parsed: { username?: unknown; password?: unknown };
    try {
      parsed = JSON.parse(await readFile(this.file, 'utf8'));
    } catch (error) {
      this.cached = undefined;
      throw new Error(`cannot read upstream credential file ${this.file}: ${(error as Error).message}`);
    }
    if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string') {
      this.cached = undefined;
      throw new Error(
        `upstream credential file ${this.file} must hold {"username": string, "password": string}`,
      );
    }
    return { user: parsed.username, password: parsed.password };
  }
}
