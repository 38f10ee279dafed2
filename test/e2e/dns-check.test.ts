// `petrel dns check DOMAIN` as an operator runs it: the real CLI process,
// a config file naming the test DNS server (never a non-loopback resolver),
// no running server. Covers a healthy domain, missing and unconfirmed reverse
// DNS, null MX, a domain that does not exist, a failing resolver, the implicit
// MX fallback, --json, and the exit statuses (0 ok, 1 problems, 64 usage).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli, type CliResult } from "../helpers/petrel.js";
import { startDnsServer, type DnsRecords, type DnsServerHandle } from "../helpers/dns-server.js";
import type { DnsReport } from "../../src/dns/check.js";

const HOST = "mail.example.test";
const SOURCE = "127.0.0.9";

/** A healthy set-up: MX → this server, A, PTR forward-confirmed, SPF, DMARC. */
function healthy(domain = "example.test"): DnsRecords {
  return {
    mx: { [domain]: [{ preference: 10, exchange: HOST }] },
    a: { [HOST]: [SOURCE] },
    ptr: { [SOURCE]: HOST },
    txt: { [domain]: ["v=spf1 mx -all"], [`_dmarc.${domain}`]: ["v=DMARC1; p=reject"] },
  };
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** Its own DNS server and config file; returns a runner for `petrel dns ...`. */
async function setup(records: DnsRecords, opts: { sourceAddress?: string | null; hostname?: string } = {}) {
  const dns: DnsServerHandle = await startDnsServer(records);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-dns-check-"));
  cleanups.push(async () => {
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const source = opts.sourceAddress === undefined ? SOURCE : opts.sourceAddress;
  const config = [
    `hostname = "${opts.hostname ?? HOST}"`,
    `data_dir = ${JSON.stringify(path.join(dir, "data"))}`,
    "[dns]",
    `servers = ["${dns.address}"]`,
    `timeout = "2s"`,
    ...(source ? ["[delivery]", `source_address = "${source}"`] : []),
  ].join("\n");
  const configFile = path.join(dir, "petrel.toml");
  fs.writeFileSync(configFile, `${config}\n`);
  return { dns, run: (args: string[]) => runCli(["dns", ...args, "--config", configFile]) };
}

function lines(r: CliResult): string[] {
  return r.stdout.trimEnd().split("\n");
}

function line(r: CliResult, pattern: RegExp): string {
  const found = lines(r).find((l) => pattern.test(l));
  assert.ok(found, `no line matching ${pattern} in:\n${r.stdout}`);
  return found;
}

/** Exit 1 and exactly one line on stderr naming the count and the domain. */
function problems(r: CliResult, count: number, domain: string): void {
  assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.stderr, `dns check: ${count} problem${count === 1 ? "" : "s"} found for ${domain} (see above)\n`);
}

describe("petrel dns check", { concurrency: true }, () => {
  it("a healthy domain: every check OK, exit 0", async () => {
    const { run, dns } = await setup(healthy());
    const r = await run(["check", "example.test"]);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.stderr, "");
    const out = lines(r);
    assert.ok(out.length >= 8, r.stdout);
    for (const l of out) assert.match(l, /^OK /, r.stdout);
    assert.match(line(r, /^OK\s+MX\s/), /10 mail\.example\.test/);
    assert.match(line(r, /MX points here/), /mail\.example\.test \(this server\)/);
    assert.match(line(r, /reverse DNS 127\.0\.0\.9/), /mail\.example\.test/);
    assert.match(line(r, /forward-confirmed 127\.0\.0\.9/), /resolves back/);
    assert.match(line(r, /SPF/), /v=spf1 mx -all/);
    assert.match(line(r, /DMARC/), /v=DMARC1; p=reject/);
    // Only the loopback test server was asked, and it was asked about the PTR of our address.
    assert.ok(dns.queries.some((q) => q.type === "PTR" && q.name === "9.0.0.127.in-addr.arpa"));
  });

  it("no reverse DNS for the outgoing address: FAIL in plain words, exit 1", async () => {
    const records = healthy();
    delete records.ptr;
    const { run } = await setup(records);
    const r = await run(["check", "example.test"]);
    problems(r, 1, "example.test");
    const fail = line(r, /^FAIL/);
    assert.match(fail, /reverse DNS 127\.0\.0\.9/);
    assert.match(fail, /no reverse DNS for 127\.0\.0\.9: many receivers \(Gmail, Outlook\) refuse or junk mail/);
    assert.equal(lines(r).filter((l) => l.startsWith("FAIL")).length, 1);
  });

  it("a PTR that does not resolve back: FAIL forward-confirmed, WARN for the HELO mismatch", async () => {
    const records = healthy();
    records.ptr = { [SOURCE]: "host-9.isp.test" };
    records.a = { [HOST]: [SOURCE], "host-9.isp.test": ["127.0.0.10"] };
    const { run } = await setup(records);
    const r = await run(["check", "example.test"]);
    problems(r, 1, "example.test");
    assert.match(line(r, /^OK\s+reverse DNS 127\.0\.0\.9/), /host-9\.isp\.test/);
    assert.match(line(r, /^FAIL\s+forward-confirmed 127\.0\.0\.9/), /does not resolve back to 127\.0\.0\.9 \(host-9\.isp\.test resolves to 127\.0\.0\.10\)/);
    assert.match(line(r, /^WARN\s+PTR matches HELO/), /HELO name and reverse DNS differ/);
  });

  it("a null MX: the domain accepts no mail", async () => {
    const records = healthy();
    records.mx = { "example.test": [{ preference: 0, exchange: "." }] };
    const { run } = await setup(records);
    const r = await run(["check", "example.test"]);
    problems(r, 1, "example.test");
    assert.match(line(r, /^FAIL\s+MX\s/), /null MX \(RFC 7505\): the domain accepts no mail/);
    assert.ok(!lines(r).some((l) => /MX host|MX points here/.test(l)), "no checks of MX hosts after a null MX");
  });

  it("a domain that does not exist: FAIL NXDOMAIN, no SPF/DMARC noise", async () => {
    const { run } = await setup({ ...healthy(), nxdomain: ["nowhere.test"] });
    const r = await run(["check", "nowhere.test"]);
    problems(r, 1, "nowhere.test");
    assert.match(line(r, /^FAIL\s+MX\s/), /nowhere\.test does not exist in DNS \(NXDOMAIN\)/);
    assert.ok(!lines(r).some((l) => /SPF|DMARC/.test(l)), r.stdout);
    assert.match(line(r, /reverse DNS/), /^OK/); // this server's own checks still run
  });

  it("a resolver failing for now: DNS lookup failed", async () => {
    const { run } = await setup({ ...healthy(), servfail: ["broken.test"] });
    const r = await run(["check", "broken.test"]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(line(r, /^FAIL\s+MX\s/), /DNS lookup failed/);
  });

  it("no MX: WARN about the fallback to A/AAAA; MX elsewhere: WARN; missing SPF/DMARC: WARN; exit 0", async () => {
    const { run } = await setup({
      ...healthy(),
      mx: { "elsewhere.test": [{ preference: 5, exchange: "mx.provider.test" }] },
      a: { [HOST]: [SOURCE], "plain.test": ["127.0.0.20"], "mx.provider.test": ["127.0.0.30"] },
    });
    const plain = await run(["check", "plain.test"]);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.match(line(plain, /^WARN\s+MX\s/), /no MX: senders fall back to the A\/AAAA record of plain\.test \(127\.0\.0\.20\)/);
    assert.match(line(plain, /^WARN\s+SPF/), /no SPF record/);
    assert.match(line(plain, /^WARN\s+DMARC/), /no DMARC record at _dmarc\.plain\.test/);
    assert.match(line(plain, /^OK\s+MX host plain\.test/), /127\.0\.0\.20/);

    const elsewhere = await run(["check", "elsewhere.test"]);
    assert.equal(elsewhere.code, 0, elsewhere.stdout + elsewhere.stderr);
    assert.match(line(elsewhere, /^WARN\s+MX points here/), /none of the MX hosts is this server \(mail\.example\.test\); mail for elsewhere\.test goes elsewhere/);
  });

  it("an MX host without addresses, a HELO name without addresses, two SPF records: each a FAIL", async () => {
    const { run } = await setup(
      {
        mx: { "bad.test": [{ preference: 10, exchange: "ghost.bad.test" }] },
        txt: { "bad.test": ["v=spf1 mx -all", "v=spf1 a -all"] },
        ptr: { [SOURCE]: "other.test" },
        a: { "other.test": [SOURCE] },
      },
      { hostname: "lonely.example.test" },
    );
    const r = await run(["check", "bad.test"]);
    problems(r, 3, "bad.test");
    assert.match(line(r, /^FAIL\s+MX host ghost\.bad\.test/), /no A\/AAAA record: senders cannot reach this MX/);
    assert.match(line(r, /^FAIL\s+HELO name/), /remote servers cannot check your HELO name/);
    assert.match(line(r, /^FAIL\s+SPF/), /2 SPF records/);
  });

  it("without delivery.source_address, the HELO name's addresses are checked", async () => {
    const { run } = await setup(healthy(), { sourceAddress: null });
    const r = await run(["check", "example.test"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(line(r, /forward-confirmed 127\.0\.0\.9/), /^OK/);
  });

  it("--json prints the report", async () => {
    const records = healthy();
    delete records.ptr;
    const { run } = await setup(records);
    const r = await run(["check", "Example.TEST.", "--json"]);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as DnsReport;
    assert.equal(report.domain, "example.test");
    assert.equal(report.hostname, HOST);
    const byId = (id: string) => report.checks.filter((c) => c.id === id);
    assert.deepEqual(byId("mx")[0].records, ["10 mail.example.test"]);
    assert.equal(byId("mx")[0].status, "ok");
    assert.equal(byId("ptr")[0].status, "fail");
    assert.match(byId("ptr")[0].detail, /reverse DNS/);
    for (const c of report.checks) {
      assert.ok(["ok", "warn", "fail"].includes(c.status));
      assert.equal(typeof c.name, "string");
      assert.equal(typeof c.detail, "string");
    }
  });

  it("usage errors exit 64 with one line on stderr", async () => {
    const { run } = await setup(healthy());
    for (const args of [["check"], ["lookup", "example.test"], ["check", "not a domain"], ["check", "example.test", "extra"], ["check", "example.test", "--bogus"]]) {
      const r = await run(args);
      assert.equal(r.code, 64, `${args.join(" ")}: exit ${r.code} ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /usage: petrel dns check DOMAIN|unknown option/);
    }
  });
});
