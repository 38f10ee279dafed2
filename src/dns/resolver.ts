// The one DNS resolver of a process: MX, A/AAAA, PTR and TXT lookups through
// the configured dns.servers (host:port each) or the system's, with a timeout.
// Results say plainly whether a name does not exist or the lookup failed for
// now, because mail routing treats those differently (RFC 5321 §5.1).
import { Resolver } from "node:dns/promises";
import net from "node:net";

export type Lookup<T> = { ok: true; value: T } | { ok: false; kind: "nxdomain" | "nodata" | "temporary"; error: string };

export class DnsResolver {
  private readonly resolver: Resolver;

  constructor(servers: string[] | undefined, timeoutMs: number) {
    this.resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
    if (servers && servers.length > 0) this.resolver.setServers(servers);
  }

  /** PTR names of an address, asked of DNS (not /etc/hosts, which reverse() would consult first). */
  async ptr(address: string): Promise<Lookup<string[]>> {
    const name = reverseName(address);
    if (!name) return { ok: false, kind: "nxdomain", error: "not an IP address" };
    return this.run(() => this.resolver.resolvePtr(name));
  }

  async mx(domain: string): Promise<Lookup<{ exchange: string; priority: number }[]>> {
    return this.run(() => this.resolver.resolveMx(domain));
  }

  async a(name: string): Promise<Lookup<string[]>> {
    return this.run(() => this.resolver.resolve4(name));
  }

  async aaaa(name: string): Promise<Lookup<string[]>> {
    return this.run(() => this.resolver.resolve6(name));
  }

  async txt(name: string): Promise<Lookup<string[]>> {
    return this.run(async () => (await this.resolver.resolveTxt(name)).map((parts) => parts.join("")));
  }

  /** The client's verified reverse name (PTR whose A/AAAA leads back), or undefined. */
  async verifiedPtr(address: string): Promise<string | undefined> {
    const names = await this.ptr(address);
    if (!names.ok) return undefined;
    for (const name of names.value.slice(0, 5)) {
      const forward = net.isIPv6(address) ? await this.aaaa(name) : await this.a(name);
      if (forward.ok && forward.value.includes(address)) return name.replace(/\.$/, "");
    }
    return undefined;
  }

  cancel(): void {
    this.resolver.cancel();
  }

  private async run<T>(fn: () => Promise<T>): Promise<Lookup<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTFOUND") return { ok: false, kind: "nxdomain", error: String(code) };
      if (code === "ENODATA") return { ok: false, kind: "nodata", error: String(code) };
      return { ok: false, kind: "temporary", error: String(code ?? (err as Error).message) };
    }
  }
}

/** "192.0.2.1" → "1.2.0.192.in-addr.arpa"; IPv6 as nibbles under ip6.arpa (RFC 3596 §2.5). */
export function reverseName(address: string): string | undefined {
  if (net.isIPv4(address)) return `${address.split(".").reverse().join(".")}.in-addr.arpa`;
  if (!net.isIPv6(address)) return undefined;
  const [head, tail = ""] = address.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = groups(tail);
  if (right.length && right[right.length - 1].includes(".")) return undefined; // embedded IPv4 forms: not needed here
  const full = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right].map((g) => g.padStart(4, "0"));
  return `${full.join("").split("").reverse().join(".")}.ip6.arpa`;
}
