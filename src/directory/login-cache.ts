// A short-lived cache of successful password checks, as Dovecot's
// auth_cache: mail clients log in again and again with the same password,
// and each scrypt check costs ~100 ms of CPU. Only an HMAC of the password
// under a per-process random key is kept, never the password; an entry ends
// after `ttlMs` or as soon as the stored hash changes (petrel user passwd).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

interface Entry {
  digest: Buffer;
  passwordHash: string;
  expires: number;
}

export class LoginCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  private digest(password: string): Buffer {
    return createHmac("sha256", this.key).update(password, "utf8").digest();
  }

  /** True when this password was verified for this user (with this stored hash) recently. */
  check(userId: number, passwordHash: string, password: string, now = Date.now()): boolean {
    const entry = this.entries.get(userId);
    if (!entry) return false;
    if (entry.expires <= now || entry.passwordHash !== passwordHash) {
      this.entries.delete(userId);
      return false;
    }
    return timingSafeEqual(entry.digest, this.digest(password));
  }

  remember(userId: number, passwordHash: string, password: string, now = Date.now()): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as number);
    this.entries.set(userId, { digest: this.digest(password), passwordHash, expires: now + this.ttlMs });
  }
}
