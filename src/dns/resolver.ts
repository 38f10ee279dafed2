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

  async ptr(address: string): Promise<Lookup<string[]>> {
    if (!net.isIP(address)) return { ok: false, kind: "nxdomain", error: "not an IP address" };
    return this.run(() => this.resolver.reverse(address));
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
