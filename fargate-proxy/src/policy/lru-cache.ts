/**
 * A bounded cache that keeps what is used: two generations of at most `capacity / 2` entries each.
 * Entries are added to the young generation; when it is full it becomes the old one and the previous
 * old generation is dropped. A hit in the old generation moves the entry back to the young one. A hit
 * in the young generation — the common case for a hot statement — is a single Map lookup, where a
 * strict LRU would delete and re-insert on every hit.
 */
export class LruCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.ceil(capacity / 2);
  }

  get(key: K): V | undefined {
    const hot = this.young.get(key);
    if (hot !== undefined) return hot;
    const cold = this.old.get(key);
    if (cold !== undefined) this.set(key, cold);
    return cold;
  }

  set(key: K, value: V): void {
    if (this.half === 0) return;
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
