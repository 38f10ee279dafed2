// Recipient resolution, the heart of the directory: is an address local, and
// which mailboxes does it reach? Aliases (one-to-many, nested, catch-all
// "@domain"), sub-addresses ("user+tag"), and postmaster@ of every local
// domain, which always reaches someone (RFC 5321 §4.5.1). Trusted to never
// turn a non-local address into a local one or the other way round.
import type { DirectoryStore, UserRecord } from "../store/interfaces.js";
import { splitAddress } from "./address.js";

export type Destination =
  | { kind: "mailbox"; user: UserRecord; address: string }
  | { kind: "remote"; address: string };

export type Resolution =
  | { kind: "local"; destinations: Destination[] }
  | { kind: "remote" }
  | { kind: "unknown" };

const MAX_ALIAS_DEPTH = 10;
const MAX_DESTINATIONS = 1000;

export class RecipientResolver {
  constructor(private readonly directory: DirectoryStore, private readonly subaddressDelimiter = "+") {}

  /** `address` must be normalised (lower-case, A-label domain). */
  async resolve(address: string): Promise<Resolution> {
    const { domain } = splitAddress(address);
    if (!(await this.directory.hasDomain(domain))) return { kind: "remote" };
    const destinations = new Map<string, Destination>();
    const found = await this.expand(address, 0, new Set(), destinations);
    if (!found) return { kind: "unknown" };
    return { kind: "local", destinations: [...destinations.values()] };
  }

  /** Adds what `address` reaches; false when a local address reaches nothing. */
  private async expand(address: string, depth: number, seen: Set<string>, out: Map<string, Destination>): Promise<boolean> {
    if (seen.has(address)) return true; // an alias loop adds nothing more; the rest still counts
    seen.add(address);
    if (depth > MAX_ALIAS_DEPTH || out.size >= MAX_DESTINATIONS) return false;
    const { local, domain } = splitAddress(address);
    if (!(await this.directory.hasDomain(domain))) {
      out.set(address, { kind: "remote", address });
      return true;
    }
    const targets = await this.directory.getAlias(address);
    if (targets) return this.expandAll(targets, depth, seen, out);
    const user = await this.directory.getUser(address);
    if (user) {
      out.set(`user:${user.id}`, { kind: "mailbox", user, address });
      return true;
    }
    const delimiter = this.subaddressDelimiter ? local.indexOf(this.subaddressDelimiter) : -1;
    if (delimiter > 0) {
      const base = `${local.slice(0, delimiter)}@${domain}`;
      const baseUser = (await this.directory.getAlias(base)) ? undefined : await this.directory.getUser(base);
      if (baseUser) {
        out.set(`user:${baseUser.id}`, { kind: "mailbox", user: baseUser, address });
        return true;
      }
      if (await this.directory.getAlias(base)) return this.expand(base, depth + 1, seen, out);
    }
    const catchAll = await this.directory.getAlias(`@${domain}`);
    if (catchAll) return this.expandAll(catchAll.map((t) => (t.startsWith("@") ? `${local}${t}` : t)), depth, seen, out);
    if (local === "postmaster") return this.postmasterFallback(domain, out);
    return false;
  }

  private async expandAll(targets: string[], depth: number, seen: Set<string>, out: Map<string, Destination>): Promise<boolean> {
    let any = false;
    for (const target of targets) if (await this.expand(target, depth + 1, seen, out)) any = true;
    return any;
  }

  /** postmaster@domain with no user or alias: the domain's first user, else the first user of any domain. */
  private async postmasterFallback(domain: string, out: Map<string, Destination>): Promise<boolean> {
    const user = (await this.directory.listUsers(domain))[0] ?? (await this.oldestUser());
    if (!user) return false;
    out.set(`user:${user.id}`, { kind: "mailbox", user, address: `postmaster@${domain}` });
    return true;
  }

  private async oldestUser(): Promise<UserRecord | undefined> {
    const users = await this.directory.listUsers();
    return users.sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)[0];
  }
}
