/**
 * The tokens this gateway process issued, and the values they stand for, so that a client may filter
 * on a masked column with a token it received (`WHERE card = 'tok_…'`): the gateway puts the value
 * back before the statement runs, and the client never learns it. Bounded: the oldest tokens are
 * forgotten first (two generations), and a forgotten token is refused like an unknown one.
 */
export class TokenVault {
  private young = new Map<string, string>();
  private old = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  issued = (token: string, value: string): void => {
    if (this.young.size >= this.capacity / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(token, value);
  };

  valueOf(token: string): string | undefined {
    return this.young.get(token) ?? this.old.get(token);
  }
}
