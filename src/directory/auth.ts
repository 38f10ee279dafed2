// Password logins for every protocol (SMTP AUTH, POP3, IMAP) with the login
// throttle they share through the counters store: each failure is answered
// after a delay, and a client address with too many failures in the window
// is refused without its password being checked. Only the attacker's address
// is blocked: a user logging in correctly from elsewhere is not affected.
// SECURITY: one generic failure for a wrong user or a wrong password, and an
// unknown user costs the same hash computation as a known one.
import type { Logger } from "../log/logger.js";
import type { CounterStore, DirectoryStore, UserRecord } from "../store/interfaces.js";
import { normalizeAddress } from "./address.js";
import { hashPassword, verifyPassword } from "./password.js";
import { recordMailboxLogin } from "./mailbox-logins.js";
import { LoginCache } from "./login-cache.js";

export interface ThrottleSettings {
  /** Pause before a failure is answered. */
  failureDelayMs: number;
  /** Failures from one address within the window before it is blocked. */
  maxFailures: number;
  windowMs: number;
  /** How long a successful check is remembered (0: never). */
  cacheMs?: number;
}

export type LoginResult = { ok: true; user: UserRecord } | { ok: false; reason: "invalid" | "blocked" };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Authenticator {
  private dummyHash: Promise<string> | undefined;
  private readonly cache: LoginCache;
  private readonly perClient = new Map<string, Promise<void>>();

  constructor(
    private readonly directory: DirectoryStore,
    private readonly counters: CounterStore,
    private readonly settings: ThrottleSettings,
    private readonly log: Logger,
    /** relay.smtp_after_pop: POP3/IMAP logins are remembered this long per client address. */
    private readonly mailboxLoginMemoryMs = 0,
  ) {
    this.cache = new LoginCache(settings.cacheMs ?? 0);
  }

  /**
   * Checks a username (the full address) and password for a client at
   * `client`. Attempts from one address are taken one at a time, failure
   * delay included, so parallel connections cannot guess faster or slip
   * past the failure count.
   */
  login(username: string, password: string, client: string, protocol: string): Promise<LoginResult> {
    const previous = this.perClient.get(client) ?? Promise.resolve();
    const attempt = previous.then(() => this.loginNow(username, password, client, protocol));
    const settled = attempt.then(() => undefined, () => undefined);
    this.perClient.set(client, settled);
    void settled.then(() => {
      if (this.perClient.get(client) === settled) this.perClient.delete(client);
    });
    return attempt;
  }

  private async loginNow(username: string, password: string, client: string, protocol: string): Promise<LoginResult> {
    const ipKey = `auth-fail:ip:${throttleKey(client)}`;
    const failures = await this.counters.count(ipKey, this.settings.windowMs);
    if (failures >= this.settings.maxFailures) {
      this.log.warn({ client, protocol, failures }, "login refused: too many failures from this address");
      await sleep(this.settings.failureDelayMs);
      return { ok: false, reason: "blocked" };
    }
    const address = normalizeAddress(username);
    const user = address ? await this.directory.getUser(address) : undefined;
    const valid = user
      ? this.cache.check(user.id, user.passwordHash, password) || (await verifyPassword(password, user.passwordHash))
      : (await verifyPassword(password, await (this.dummyHash ??= hashPassword("not a real password"))), false);
    if (valid && user) {
      this.cache.remember(user.id, user.passwordHash, password);
      this.log.info({ client, protocol, user: user.address }, "login");
      if (protocol !== "smtp") await recordMailboxLogin(this.counters, client, this.mailboxLoginMemoryMs);
      return { ok: true, user };
    }
    const count = await this.counters.hit(ipKey, this.settings.windowMs);
    if (address) await this.counters.hit(`auth-fail:user:${address}`, this.settings.windowMs);
    this.log.info({ client, protocol, user: address ?? username.slice(0, 100), failures: count }, "login failed");
    await sleep(this.settings.failureDelayMs);
    return { ok: false, reason: count >= this.settings.maxFailures ? "blocked" : "invalid" };
  }
}

/** The unit a throttle counts: an IPv4 address, or the /64 an IPv6 address belongs to (one host usually has them all). */
export function throttleKey(client: string): string {
  if (!client.includes(":")) return client;
  const [head, tail = ""] = client.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = client.includes("::") ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
