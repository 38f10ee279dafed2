// Checks the test DNS server (test/helpers/dns-server.ts) with Node's own
// resolver: MX, A, AAAA, TXT, reverse PTR, NODATA, NXDOMAIN, SERVFAIL and TCP.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Resolver } from "node:dns/promises";
import dnsPacket from "dns-packet";
import { startDnsServer, type DnsServerHandle } from "../helpers/dns-server.js";

async function withServer(fn: (dns: DnsServerHandle, resolver: Resolver) => Promise<void>) {
  const dns = await startDnsServer({
    mx: { "example.test": [{ preference: 10, exchange: "mx1.example.test" }, { preference: 20, exchange: "mx2.example.test" }] },
    a: { "mx1.example.test": ["127.0.0.2"], "Mixed.Example.Test": ["127.0.0.3"] },
    aaaa: { "mx1.example.test": ["::1"] },
    ptr: { "127.0.0.2": "mx1.example.test", "::1": "v6.example.test" },
    txt: { "example.test": ["v=spf1 ip4:127.0.0.0/8 -all", "x".repeat(300)] },
    nxdomain: ["gone.example.test"],
    servfail: ["broken.example.test"],
  });
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([dns.address]);
  try {
    await fn(dns, resolver);
  } finally {
    await dns.close();
  }
}

test("MX, A, AAAA and TXT answers; names are case-insensitive", () =>
  withServer(async (dns, resolver) => {
    assert.match(dns.address, /^127\.0\.0\.1:\d+$/);
    const mx = await resolver.resolveMx("EXAMPLE.test");
    assert.deepEqual(mx.sort((x, y) => x.priority - y.priority), [
      { exchange: "mx1.example.test", priority: 10 },
      { exchange: "mx2.example.test", priority: 20 },
    ]);
    assert.deepEqual(await resolver.resolve4("mx1.example.test"), ["127.0.0.2"]);
    assert.deepEqual(await resolver.resolve4("mixed.example.test"), ["127.0.0.3"]);
    assert.deepEqual(await resolver.resolve6("mx1.example.test"), ["::1"]);
    const txt = (await resolver.resolveTxt("example.test")).map((parts) => parts.join(""));
    assert.deepEqual(txt.sort(), ["v=spf1 ip4:127.0.0.0/8 -all", "x".repeat(300)].sort());
    assert.deepEqual(dns.queries[0], { name: "example.test", type: "MX" });
  }));

test("reverse lookups map in-addr.arpa and ip6.arpa to the ptr table", () =>
  withServer(async (_dns, resolver) => {
    assert.deepEqual(await resolver.reverse("127.0.0.2"), ["mx1.example.test"]);
    assert.deepEqual(await resolver.reverse("::1"), ["v6.example.test"]);
    await assert.rejects(resolver.reverse("127.0.0.9"), { code: "ENOTFOUND" });
  }));

test("NXDOMAIN for listed and unknown names, NODATA for known names", () =>
  withServer(async (_dns, resolver) => {
    await assert.rejects(resolver.resolveMx("gone.example.test"), { code: "ENOTFOUND" });
    await assert.rejects(resolver.resolve4("nowhere.example.test"), { code: "ENOTFOUND" });
    await assert.rejects(resolver.resolveMx("mx1.example.test"), { code: "ENODATA" });
  }));

test("SERVFAIL for names listed in servfail", () =>
  withServer(async (_dns, resolver) => {
    await assert.rejects(resolver.resolveMx("broken.example.test"), { code: "ESERVFAIL" });
  }));

test("set() replaces the records", () =>
  withServer(async (dns, resolver) => {
    dns.set({ a: { "new.example.test": ["127.0.0.7"] } });
    assert.deepEqual(await resolver.resolve4("new.example.test"), ["127.0.0.7"]);
    await assert.rejects(resolver.resolve4("mx1.example.test"), { code: "ENOTFOUND" });
  }));

test("a large answer is truncated over UDP and fetched again over TCP", () =>
  withServer(async (dns, resolver) => {
    const many = Array.from({ length: 120 }, (_, i) => `127.0.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    dns.set({ a: { "big.example.test": many } });
    assert.deepEqual((await resolver.resolve4("big.example.test")).sort(), [...many].sort());
  }));

test("answers over TCP on the same port", () =>
  withServer(async (dns) => {
    const query = dnsPacket.encode({ type: "query", id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: "A", name: "mx1.example.test" }] });
    const socket = net.connect(dns.port, "127.0.0.1");
    const length = Buffer.alloc(2);
    length.writeUInt16BE(query.length);
    socket.write(Buffer.concat([length, query]));
    let buffered = Buffer.alloc(0);
    for await (const chunk of socket) {
      buffered = Buffer.concat([buffered, chunk as Buffer]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) break;
    }
    socket.destroy();
    const reply = dnsPacket.decode(buffered.subarray(2));
    assert.equal(reply.id, 7);
    assert.deepEqual(reply.answers?.map((a) => ("data" in a ? a.data : undefined)), ["127.0.0.2"]);
  }));
