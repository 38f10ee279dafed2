// `petrel dns check DOMAIN`: what remote mail servers will find in DNS about
// DOMAIN and about this server (MX, A/AAAA, reverse DNS of the outgoing
// address and whether it resolves back, SPF, DMARC), one line per check.
// Needs only the configuration (hostname, dns.servers, dns.timeout,
// delivery.source_address), not a running server; asks DNS, changes nothing.
// Exit status: 0 when no check failed (warnings allowed), 1 when one did,
// 64 on a usage error (as every verb).
import { domainToASCII } from "node:url";
import { checkDns, type DnsCheckStatus, type DnsReport } from "../dns/check.js";
import { DnsResolver } from "../dns/resolver.js";
import { parseArgs, UsageError } from "./args.js";
import { createContext } from "./context.js";

const USAGE = "usage: petrel dns check DOMAIN [--json] [--config FILE]";

export async function dnsVerb(argv: string[]): Promise<number> {
  let domain: string;
  let args;
  try {
    args = parseArgs(argv, ["config"], ["json"]);
    const [action, name, ...extra] = args.positional;
    if (action !== "check" || !name) throw new UsageError(USAGE);
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"; ${USAGE}`);
    domain = asciiDomain(name);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`petrel: ${err.message}\n`);
    return 64;
  }

  const ctx = createContext(args.options.get("config"), args.flags.has("json"));
  const { config } = ctx;
  const resolver = new DnsResolver(config.dns.servers, config.dns.timeout);
  try {
    const report = await checkDns(resolver, { domain, hostname: config.hostname, sourceAddress: config.delivery.source_address, relayDomains: config.relay.domains });
    ctx.out(ctx.json ? JSON.stringify(report, null, 2) : formatReport(report));
    const problems = report.checks.filter((c) => c.status === "fail").length;
    if (problems === 0) return 0;
    process.stderr.write(`dns check: ${problems} problem${problems === 1 ? "" : "s"} found for ${report.domain} (see above)\n`);
    return 1;
  } finally {
    resolver.cancel();
    await ctx.close();
  }
}

const LABEL: Record<DnsCheckStatus, string> = { ok: "OK", warn: "WARN", fail: "FAIL" };

/** One line per check: status, what was checked, what was found, aligned for reading. */
export function formatReport(report: DnsReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  return report.checks.map((c) => `${LABEL[c.status].padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`).join("\n");
}

/** "Bücher.Example." → "xn--bcher-kva.example"; a usage error when it is not a domain name. */
function asciiDomain(name: string): string {
  const ascii = domainToASCII(name.trim().replace(/\.$/, ""));
  if (!ascii || !ascii.includes(".") || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/.test(ascii) || ascii.length > 253) {
    throw new UsageError(`"${name}" is not a domain name; ${USAGE}`);
  }
  return ascii;
}
