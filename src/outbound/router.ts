// Where mail for a domain goes next (RFC 5321 §5.1): the MX hosts in
// ascending preference, shuffled among equal preference, each with all its
// addresses; no MX record means the domain's own A/AAAA (the implicit MX);
// a null MX (RFC 7505) means the domain takes no mail. When this server is in
// the list, it and every host of equal or higher preference are dropped so
// mail only moves toward a more preferred MX; nothing left is a mail loop.
// NXDOMAIN fails at once; a temporary DNS failure waits for a retry. With
// relay.smarthost, every non-local domain goes to that one host instead.
// Trusted with nothing but DNS answers; never connects anywhere itself.
import net from "node:net";
import type { DnsResolver, Lookup } from "../dns/resolver.js";

export interface Hop {
  host: string;
  preference: number;
  addresses: string[];
}

export type Route =
  | { ok: true; hops: Hop[]; /** Hosts skipped because they had no address, for the error if every hop fails. */ unresolved: string[] }
  | { ok: false; permanent: boolean; error: string; /** A relay domain whose best MX is this server: the admin must fix DNS or relay.domains. */ misconfigured?: boolean };

export interface RouterOptions {
  /** Our own names (hostname), lower case. */
  selfNames: string[];
  /** Our own addresses at the port we would connect to (a connection there would reach this server). */
  isSelfAddress: (address: string) => boolean;
  addressPreference: "any" | "ipv4" | "ipv6";
  /** "name:port" or "[address]:port" split; set when relay.smarthost is configured. */
  smarthost?: { host: string; port: number };
  /** relay.domains (lower case): backup MX domains, always routed by their MX (never the smarthost); a loop waits instead of bouncing. */
  relayDomains?: string[];
  random?: () => number;
}

const norm = (name: string) => name.toLowerCase().replace(/\.$/, "");

export class Router {
  constructor(private readonly dns: DnsResolver, private readonly options: RouterOptions) {}

  /** The destination key connections are pooled by. */
  destinationOf(domain: string): string {
    return this.options.smarthost && !this.isRelayDomain(domain) ? "[smarthost]" : norm(domain);
  }

  private isRelayDomain(domain: string): boolean {
    return this.options.relayDomains?.includes(norm(domain)) ?? false;
  }

  async route(domain: string): Promise<Route> {
    const smarthost = this.isRelayDomain(domain) ? undefined : this.options.smarthost;
    if (smarthost) {
      const hop = await this.hop(smarthost.host, 0);
      if (hop.addresses.length > 0) return { ok: true, hops: [hop], unresolved: [] };
      return { ok: false, permanent: false, error: `4.4.3 smarthost ${smarthost.host} has no address (${hop.problem ?? "no A/AAAA record"})` };
    }
    const literal = /^\[(?:ipv6:)?([0-9a-f:.]+)\]$/i.exec(domain);
    if (literal && net.isIP(literal[1])) {
      // RFC 5321 §4.1.3 address literal: that address, no DNS.
      if (this.options.isSelfAddress(literal[1])) return { ok: false, permanent: true, error: `5.4.6 mail for ${domain} loops back to myself` };
      return { ok: true, hops: [{ host: literal[1], preference: 0, addresses: [literal[1]] }], unresolved: [] };
    }
    const mx = await this.dns.mx(domain);
    let records: { host: string; preference: number }[];
    if (mx.ok) {
      records = mx.value.map((r) => ({ host: norm(r.exchange), preference: r.priority }));
      if (records.some((r) => r.host === "")) {
        // RFC 7505 §3: a single MX of "." with preference 0; treat any "." as "takes no mail".
        return { ok: false, permanent: true, error: `5.1.10 domain ${domain} does not accept mail (null MX)` };
      }
    } else if (mx.kind === "nodata") {
      records = [{ host: norm(domain), preference: 0 }];
    } else if (mx.kind === "nxdomain") {
      return { ok: false, permanent: true, error: `5.1.2 domain ${domain} does not exist (DNS: NXDOMAIN)` };
    } else {
      return { ok: false, permanent: false, error: `4.4.3 DNS lookup of the MX of ${domain} failed: ${mx.error}` };
    }
    records = this.order(records);
    const self = records.find((r) => this.options.selfNames.includes(r.host));
    if (self) records = records.filter((r) => r.preference < self.preference);
    if (records.length === 0) {
      if (this.isRelayDomain(domain)) {
        // Issue of configuration, not of the message: keep it (it bounces at queue.max_age) rather than loop or bounce now.
        return { ok: false, permanent: false, misconfigured: true, error: `4.4.6 this server is the best MX of relay domain ${domain}: no primary to forward to (fix its MX records or relay.domains)` };
      }
      return { ok: false, permanent: true, error: `5.4.6 mail for ${domain} loops back to myself (this server is its best MX)` };
    }
    const hops: Hop[] = [];
    const unresolved: string[] = [];
    let temporary: string | undefined;
    let loop = false;
    for (const record of records) {
      const hop = await this.hop(record.host, record.preference);
      if (hop.addresses.some((a) => this.options.isSelfAddress(a))) {
        // §5.1: an MX that is one of our own addresses is us under another name.
        loop = true;
        break;
      }
      if (hop.addresses.length > 0) hops.push(hop);
      else {
        unresolved.push(record.host);
        if (hop.temporary) temporary ??= hop.problem;
      }
    }
    if (hops.length > 0) return { ok: true, hops, unresolved };
    if (loop) return { ok: false, permanent: true, error: `5.4.6 mail for ${domain} loops back to myself (an MX host has this server's address)` };
    if (temporary) return { ok: false, permanent: false, error: `4.4.3 DNS lookup of ${unresolved.join(", ")} failed: ${temporary}` };
    return { ok: false, permanent: false, error: `4.4.4 no address for any mail host of ${domain} (${unresolved.join(", ")})` };
  }

  /** Ascending preference, shuffled among equals (RFC 5321 §5.1 spreads load over equal MX hosts). */
  private order(records: { host: string; preference: number }[]): { host: string; preference: number }[] {
    const random = this.options.random ?? Math.random;
    return records
      .map((r) => ({ r, key: random() }))
      .sort((a, b) => a.r.preference - b.r.preference || a.key - b.key)
      .map((x) => x.r);
  }

  private async hop(host: string, preference: number): Promise<Hop & { problem?: string; temporary?: boolean }> {
    if (net.isIP(host)) return { host, preference, addresses: [host] };
    const [v4, v6] = await Promise.all([this.dns.a(host), this.dns.aaaa(host)]);
    const list = (l: Lookup<string[]>) => (l.ok ? l.value : []);
    const temporary = [v4, v6].find((l): l is Extract<Lookup<string[]>, { ok: false }> => !l.ok && l.kind === "temporary");
    const problem = temporary?.error ?? (!v4.ok && !v6.ok ? (v4.kind === "nxdomain" ? "host not found" : "no A/AAAA record") : undefined);
    const pref = this.options.addressPreference;
    const v6first = pref === "ipv6" || (pref === "any" && (this.options.random ?? Math.random)() < 0.5);
    const addresses = v6first ? [...list(v6), ...list(v4)] : [...list(v4), ...list(v6)];
    return { host, preference, addresses, problem, temporary: temporary !== undefined };
  }
}
