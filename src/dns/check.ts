// `petrel dns check`: what remote mail servers will find in DNS about a mail
// domain and about this server, with what is missing said in plain words.
// Read-only: it only asks questions of the configured resolver.
// Checks: MX and its fallback to A/AAAA (RFC 5321 §5.1), null MX (RFC 7505),
// MX targets being host names with addresses (RFC 5321 §5.1), the HELO name
// having an address (RFC 5321 §4.1.4), reverse DNS of the outgoing address
// and whether it is forward-confirmed (the FCrDNS receivers require; RFC 8601
// §3 "iprev"), SPF (RFC 7208 §4.5: exactly one "v=spf1" record) and DMARC
// (RFC 7489 §6.1: a "v=DMARC1" TXT record at _dmarc.DOMAIN).
import net from "node:net";
import type { DnsResolver, Lookup } from "./resolver.js";
import { NetworkList } from "../net/cidr.js";

export type DnsCheckStatus = "ok" | "warn" | "fail";

export interface DnsCheck {
  /** Stable identifier for scripts: mx, mx-here, mx-host, helo-name, outgoing-address, public-address, ptr, fcrdns, ptr-helo, spf, dmarc. */
  id: string;
  /** Short label for people, e.g. "reverse DNS 192.0.2.1". */
  name: string;
  status: DnsCheckStatus;
  /** What was found or what is missing, in plain words. */
  detail: string;
  records?: string[];
}

export interface DnsReport {
  domain: string;
  hostname: string;
  checks: DnsCheck[];
}

/** The lookups the check needs (DnsResolver has them all). */
export type DnsLookups = Pick<DnsResolver, "mx" | "a" | "aaaa" | "ptr" | "txt">;

const MAX_MX_HOSTS = 10;
const MAX_PTR_NAMES = 5;
const PRIVATE = new NetworkList(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"]);

export async function checkDns(
  resolver: DnsLookups,
  input: { domain: string; hostname: string; sourceAddress?: string; /** relay.domains: this server should be a backup MX of these */ relayDomains?: string[] },
): Promise<DnsReport> {
  const domain = normalizeName(input.domain);
  const hostname = normalizeName(input.hostname);
  const checks: DnsCheck[] = [];

  // The questions are independent: ask them side by side, report in order.
  const [mx, ours, spf, dmarc] = await Promise.all([
    checkMx(resolver, domain, hostname, (input.relayDomains ?? []).map(normalizeName).includes(domain)),
    checkOurselves(resolver, hostname, input.sourceAddress),
    checkSpf(resolver, domain),
    checkDmarc(resolver, domain),
  ]);
  checks.push(...mx.checks, ...ours);
  // For a domain that does not exist, "no SPF" and "no DMARC" would only be noise.
  if (!mx.domainMissing) checks.push(spf, dmarc);
  return { domain, hostname, checks };
}

// ------------------------------------------------------------------ MX

interface MxPart {
  checks: DnsCheck[];
  domainMissing: boolean;
}

async function checkMx(resolver: DnsLookups, domain: string, hostname: string, backup: boolean): Promise<MxPart> {
  const mx = await resolver.mx(domain);
  if (!mx.ok && mx.kind === "nxdomain") {
    return { domainMissing: true, checks: [{ id: "mx", name: "MX", status: "fail", detail: `${domain} does not exist in DNS (NXDOMAIN): no one can send mail to it` }] };
  }
  if (!mx.ok && mx.kind === "temporary") {
    return { domainMissing: false, checks: [{ id: "mx", name: "MX", status: "fail", detail: `DNS lookup failed: MX of ${domain}: ${mx.error}` }] };
  }

  const checks: DnsCheck[] = [];
  let targets: { host: string; preference?: number }[];
  if (!mx.ok) {
    // No MX: senders use the domain's own A/AAAA as an implicit MX (RFC 5321 §5.1).
    const addresses = await addressesOf(resolver, domain);
    if (addresses.error) {
      checks.push({ id: "mx", name: "MX", status: "fail", detail: `no MX for ${domain}, and ${addresses.error}` });
      return { domainMissing: false, checks };
    }
    if (addresses.list.length === 0) {
      checks.push({ id: "mx", name: "MX", status: "fail", detail: `no MX and no A/AAAA record for ${domain}: no one can send mail to it` });
      return { domainMissing: false, checks };
    }
    checks.push({
      id: "mx",
      name: "MX",
      status: "warn",
      detail: `no MX: senders fall back to the A/AAAA record of ${domain} (${addresses.list.join(", ")}); publish an MX record naming your mail server`,
      records: addresses.list,
    });
    targets = [{ host: domain }];
  } else {
    const records = [...mx.value].sort((a, b) => a.priority - b.priority).map((r) => ({ host: normalizeName(r.exchange), preference: r.priority }));
    const shown = records.map((r) => `${r.preference} ${r.host || "."}`);
    const nulls = records.filter((r) => r.host === "");
    if (nulls.length > 0 && records.length === 1) {
      checks.push({ id: "mx", name: "MX", status: "fail", detail: `${domain} has a null MX (RFC 7505): the domain accepts no mail`, records: shown });
      return { domainMissing: false, checks };
    }
    if (nulls.length > 0) {
      checks.push({
        id: "mx",
        name: "MX",
        status: "fail",
        detail: `${domain} mixes a null MX (".", meaning "accepts no mail") with other MX records; RFC 7505 says the null MX must be the only one: remove it`,
        records: shown,
      });
      targets = records.filter((r) => r.host !== "");
    } else {
      checks.push({ id: "mx", name: "MX", status: "ok", detail: `mail for ${domain} goes to ${shown.join(", ")}`, records: shown });
      targets = records;
    }
  }

  const here = targets.find((t) => t.host === hostname);
  if (backup) checks.push(backupMxCheck(domain, hostname, targets, here));
  else if (here) {
    checks.push({ id: "mx-here", name: "MX points here", status: "ok", detail: `${hostname} (this server) is ${here.preference === undefined ? `the implicit MX of ${domain}` : `an MX host of ${domain} (preference ${here.preference})`}` });
  } else {
    checks.push({ id: "mx-here", name: "MX points here", status: "warn", detail: `none of the MX hosts is this server (${hostname}); mail for ${domain} goes elsewhere` });
  }

  const hosts = [...new Set(targets.map((t) => t.host))].slice(0, MAX_MX_HOSTS);
  checks.push(...(await Promise.all(hosts.map((host) => checkMxHost(resolver, host)))));
  return { domainMissing: false, checks };
}

/**
 * A relay domain (relay.domains): this server must be listed, behind a more
 * preferred MX it can forward to (RFC 5321 §5.1); as the best MX it would
 * have nowhere to send the mail.
 */
function backupMxCheck(domain: string, hostname: string, targets: { host: string; preference?: number }[], here: { preference?: number } | undefined): DnsCheck {
  const name = "backup MX";
  if (!here) {
    return { id: "backup-mx", name, status: "warn", detail: `${domain} is in relay.domains but ${hostname} is not one of its MX hosts: no sender will hand its mail to this server` };
  }
  const better = targets.filter((t) => t.host !== hostname && (t.preference ?? 0) < (here.preference ?? 0));
  if (better.length === 0) {
    return {
      id: "backup-mx", name, status: "fail",
      detail: `${hostname} is the most preferred MX of relay domain ${domain} (preference ${here.preference ?? 0}): it would have no primary to forward to, and its mail stays queued; give the primary a lower preference number`,
    };
  }
  return { id: "backup-mx", name, status: "ok", detail: `${hostname} is a backup MX of ${domain} (preference ${here.preference}); it forwards to ${better.map((t) => `${t.preference} ${t.host}`).join(", ")}` };
}

async function checkMxHost(resolver: DnsLookups, host: string): Promise<DnsCheck> {
  const name = `MX host ${host}`;
  if (net.isIP(host.replace(/^\[|\]$/g, ""))) {
    return { id: "mx-host", name, status: "fail", detail: `the MX names an IP address (${host}); it must name a host that has A/AAAA records (RFC 5321 §5.1)` };
  }
  const addresses = await addressesOf(resolver, host);
  if (addresses.list.length > 0) return { id: "mx-host", name, status: "ok", detail: `${host} has the address(es) ${addresses.list.join(", ")}`, records: addresses.list };
  if (addresses.error) return { id: "mx-host", name, status: "fail", detail: addresses.error };
  return { id: "mx-host", name, status: "fail", detail: `${host} has no A/AAAA record: senders cannot reach this MX` };
}

// ------------------------------------------------------------------ this server

async function checkOurselves(resolver: DnsLookups, hostname: string, sourceAddress: string | undefined): Promise<DnsCheck[]> {
  const checks: DnsCheck[] = [];
  const own = await addressesOf(resolver, hostname);
  const notFqdn = !hostname.includes(".") ? ` (it is not a fully-qualified domain name: set hostname in the configuration)` : "";
  if (own.list.length > 0) {
    checks.push({ id: "helo-name", name: "HELO name", status: "ok", detail: `${hostname} (the name this server gives in HELO) has the address(es) ${own.list.join(", ")}`, records: own.list });
  } else if (own.error) {
    checks.push({ id: "helo-name", name: "HELO name", status: "fail", detail: own.error });
  } else {
    checks.push({ id: "helo-name", name: "HELO name", status: "fail", detail: `${hostname} has no A/AAAA record: remote servers cannot check your HELO name${notFqdn}` });
  }

  const outgoing = sourceAddress ? [sourceAddress] : own.list;
  if (outgoing.length === 0) {
    checks.push({
      id: "outgoing-address",
      name: "outgoing address",
      status: "warn",
      detail: `cannot check reverse DNS: no outgoing address is known (set delivery.source_address, or give ${hostname} an A/AAAA record)`,
    });
    return checks;
  }
  for (const address of outgoing) checks.push(...(await checkAddress(resolver, canonicalIp(address), hostname)));
  return checks;
}

async function checkAddress(resolver: DnsLookups, address: string, hostname: string): Promise<DnsCheck[]> {
  const checks: DnsCheck[] = [];
  if (PRIVATE.contains(address)) {
    checks.push({
      id: "public-address",
      name: `public address ${address}`,
      status: "warn",
      detail: `${address} is a private address: remote servers see the public address of your router or NAT instead, which this check cannot know; set delivery.source_address to it if this host has it`,
    });
  }
  const ptr = await resolver.ptr(address);
  if (!ptr.ok || ptr.value.length === 0) {
    const failed = !ptr.ok && ptr.kind === "temporary";
    checks.push({
      id: "ptr",
      name: `reverse DNS ${address}`,
      status: "fail",
      detail: failed
        ? `DNS lookup failed: PTR of ${address}: ${ptr.error}`
        : `no reverse DNS for ${address}: many receivers (Gmail, Outlook) refuse or junk mail from addresses without it; ask whoever gives you the address (hosting provider, ISP) to set its PTR record to ${hostname}`,
    });
    return checks;
  }
  const names = ptr.value.map(normalizeName).slice(0, MAX_PTR_NAMES);
  checks.push({ id: "ptr", name: `reverse DNS ${address}`, status: "ok", detail: `${address} has the reverse name ${names.join(", ")}`, records: names });

  // Forward-confirmed: one of the PTR names has an address record leading back.
  const v6 = net.isIPv6(address);
  const forward = await Promise.all(names.map(async (name) => ({ name, lookup: v6 ? await resolver.aaaa(name) : await resolver.a(name) })));
  const confirmed = forward.find((f) => f.lookup.ok && f.lookup.value.map(canonicalIp).includes(address));
  if (confirmed) {
    checks.push({ id: "fcrdns", name: `forward-confirmed ${address}`, status: "ok", detail: `${confirmed.name} resolves back to ${address}` });
  } else {
    const found = forward.map((f) => `${f.name} ${describeForward(f.lookup, v6)}`).join("; ");
    checks.push({
      id: "fcrdns",
      name: `forward-confirmed ${address}`,
      status: "fail",
      detail: `the reverse name does not resolve back to ${address} (${found}): receivers treat this like missing reverse DNS; give ${names[0]} an ${v6 ? "AAAA" : "A"} record for ${address}, or change the PTR`,
    });
  }

  const matching = names.includes(hostname);
  checks.push(
    matching
      ? { id: "ptr-helo", name: `PTR matches HELO ${address}`, status: "ok", detail: `the reverse name of ${address} is ${hostname}, the HELO name` }
      : {
          id: "ptr-helo",
          name: `PTR matches HELO ${address}`,
          status: "warn",
          detail: `HELO name and reverse DNS differ: this server says ${hostname}, but ${address} is called ${names.join(", ")}; some receivers score that as spam: make them the same`,
        },
  );
  return checks;
}

function describeForward(lookup: Lookup<string[]>, v6: boolean): string {
  if (lookup.ok) return lookup.value.length ? `resolves to ${lookup.value.join(", ")}` : `has no ${v6 ? "AAAA" : "A"} record`;
  if (lookup.kind === "temporary") return `could not be looked up (${lookup.error})`;
  return lookup.kind === "nxdomain" ? "does not exist" : `has no ${v6 ? "AAAA" : "A"} record`;
}

// ------------------------------------------------------------------ SPF, DMARC

async function checkSpf(resolver: DnsLookups, domain: string): Promise<DnsCheck> {
  const txt = await resolver.txt(domain);
  if (!txt.ok && txt.kind === "temporary") return { id: "spf", name: "SPF", status: "fail", detail: `DNS lookup failed: TXT of ${domain}: ${txt.error}` };
  const spf = txt.ok ? txt.value.filter((t) => /^v=spf1(\s|$)/i.test(t.trim())) : [];
  if (spf.length === 0) {
    return {
      id: "spf",
      name: "SPF",
      status: "warn",
      detail: `no SPF record for ${domain}: receivers cannot tell which servers may send its mail; publish a TXT record such as "v=spf1 mx -all"`,
    };
  }
  if (spf.length > 1) {
    return {
      id: "spf",
      name: "SPF",
      status: "fail",
      detail: `${spf.length} SPF records for ${domain}: receivers treat that as a permanent error (RFC 7208 §4.5); merge them into one`,
      records: spf,
    };
  }
  if (/(^|\s)\+?all(\s|$)/i.test(spf[0])) {
    return { id: "spf", name: "SPF", status: "warn", detail: `the SPF record of ${domain} ends in "+all", which lets any server send as ${domain}: use "-all" or "~all"`, records: spf };
  }
  return { id: "spf", name: "SPF", status: "ok", detail: `SPF record: ${spf[0]}`, records: spf };
}

async function checkDmarc(resolver: DnsLookups, domain: string): Promise<DnsCheck> {
  const name = `_dmarc.${domain}`;
  const txt = await resolver.txt(name);
  if (!txt.ok && txt.kind === "temporary") return { id: "dmarc", name: "DMARC", status: "fail", detail: `DNS lookup failed: TXT of ${name}: ${txt.error}` };
  const dmarc = txt.ok ? txt.value.filter((t) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(t.trim())) : [];
  if (dmarc.length === 0) {
    return {
      id: "dmarc",
      name: "DMARC",
      status: "warn",
      detail: `no DMARC record at ${name}: large receivers expect one from bulk senders; publish a TXT record such as "v=DMARC1; p=none; rua=mailto:postmaster@${domain}"`,
    };
  }
  if (dmarc.length > 1) {
    return { id: "dmarc", name: "DMARC", status: "warn", detail: `${dmarc.length} DMARC records at ${name}: receivers ignore them all (RFC 7489 §6.6.3); keep one`, records: dmarc };
  }
  return { id: "dmarc", name: "DMARC", status: "ok", detail: `DMARC record: ${dmarc[0]}`, records: dmarc };
}

// ------------------------------------------------------------------ helpers

/** A and AAAA of a name; error only when neither answered and one failed for now. */
async function addressesOf(resolver: DnsLookups, name: string): Promise<{ list: string[]; error?: string }> {
  const [a, aaaa] = await Promise.all([resolver.a(name), resolver.aaaa(name)]);
  const list = [...(a.ok ? a.value : []), ...(aaaa.ok ? aaaa.value.map(canonicalIp) : [])];
  const failed = [a, aaaa].find((r): r is Extract<Lookup<string[]>, { ok: false }> => !r.ok && r.kind === "temporary");
  if (list.length === 0 && failed) return { list, error: `DNS lookup failed: A/AAAA of ${name}: ${failed.error}` };
  return { list };
}

/** Lower case, no final dot: how names are compared ("MX.Example.TEST." = "mx.example.test"). */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/** The one written form of an IP address ("2001:DB8:0::1" → "2001:db8::1"). */
function canonicalIp(address: string): string {
  if (!net.isIPv6(address)) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
}
