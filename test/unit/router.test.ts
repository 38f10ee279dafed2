// RFC 5321 §5.1 routing with a fake DNS: preference order, shuffling among
// equals, implicit MX, null MX, NXDOMAIN vs temporary failures, loops back to
// ourselves, address literals and the smarthost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Router, type RouterOptions } from "../../src/outbound/router.js";
import type { DnsResolver, Lookup } from "../../src/dns/resolver.js";

type Table = {
  mx?: Record<string, Lookup<{ exchange: string; priority: number }[]>>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  temporary?: string[];
};

function fakeDns(t: Table): DnsResolver {
  const none = { ok: false as const, kind: "nodata" as const, error: "ENODATA" };
  const addresses = (map: Record<string, string[]> | undefined, name: string): Lookup<string[]> =>
    t.temporary?.includes(name) ? { ok: false, kind: "temporary", error: "ETIMEOUT" } : map?.[name] ? { ok: true, value: map[name] } : none;
  return {
    mx: async (d: string) => t.mx?.[d] ?? none,
    a: async (n: string) => addresses(t.a, n),
    aaaa: async (n: string) => addresses(t.aaaa, n),
  } as unknown as DnsResolver;
}

const options = (extra: Partial<RouterOptions> = {}): RouterOptions => ({
  selfNames: ["mx.self.test"], isSelfAddress: (a) => a === "127.0.0.1", addressPreference: "ipv4", ...extra,
});
const mx = (...records: [number, string][]): Lookup<{ exchange: string; priority: number }[]> =>
  ({ ok: true, value: records.map(([priority, exchange]) => ({ priority, exchange })) });

test("MX hosts in ascending preference with all their addresses", async () => {
  const router = new Router(fakeDns({
    mx: { "d.test": mx([20, "b.d.test"], [10, "a.d.test"]) },
    a: { "a.d.test": ["127.0.0.2", "127.0.0.3"], "b.d.test": ["127.0.0.4"] },
    aaaa: { "a.d.test": ["::2"] },
  }), options());
  const route = await router.route("d.test");
  assert.ok(route.ok);
  assert.deepEqual(route.hops.map((h) => [h.host, h.addresses]), [["a.d.test", ["127.0.0.2", "127.0.0.3", "::2"]], ["b.d.test", ["127.0.0.4"]]]);
});

test("equal preferences are shuffled, so load spreads", async () => {
  const dns = fakeDns({ mx: { "d.test": mx([10, "a.d.test"], [10, "b.d.test"]) }, a: { "a.d.test": ["127.0.0.2"], "b.d.test": ["127.0.0.3"] } });
  const firsts = new Set<string>();
  let seed = 0;
  for (let i = 0; i < 20; i++) {
    const route = await new Router(dns, options({ random: () => ((seed = (seed * 9301 + 49297) % 233280) / 233280) })).route("d.test");
    assert.ok(route.ok);
    firsts.add(route.hops[0].host);
  }
  assert.deepEqual([...firsts].sort(), ["a.d.test", "b.d.test"]);
});

test("no MX: the domain's own address (implicit MX)", async () => {
  const route = await new Router(fakeDns({ a: { "plain.test": ["127.0.0.5"] } }), options()).route("plain.test");
  assert.ok(route.ok);
  assert.deepEqual(route.hops.map((h) => [h.host, h.preference, h.addresses]), [["plain.test", 0, ["127.0.0.5"]]]);
});

test("null MX, NXDOMAIN: permanent; DNS trouble: temporary", async () => {
  const dns = fakeDns({
    mx: {
      "null.test": mx([0, ""]),
      "gone.test": { ok: false, kind: "nxdomain", error: "ENOTFOUND" },
      "slow.test": { ok: false, kind: "temporary", error: "ETIMEOUT" },
      "hostless.test": mx([10, "mx.hostless.test"]),
      "flaky.test": mx([10, "mx.flaky.test"]),
    },
    temporary: ["mx.flaky.test"],
  });
  const router = new Router(dns, options());
  assert.deepEqual(await router.route("null.test"), { ok: false, permanent: true, error: "5.1.10 domain null.test does not accept mail (null MX)" });
  const gone = await router.route("gone.test");
  assert.ok(!gone.ok && gone.permanent && gone.error.startsWith("5.1.2 "));
  const slow = await router.route("slow.test");
  assert.ok(!slow.ok && !slow.permanent && slow.error.startsWith("4.4.3 "));
  const hostless = await router.route("hostless.test");
  assert.ok(!hostless.ok && !hostless.permanent && hostless.error.startsWith("4.4.4 "), JSON.stringify(hostless));
  const flaky = await router.route("flaky.test");
  assert.ok(!flaky.ok && !flaky.permanent && flaky.error.startsWith("4.4.3 "), JSON.stringify(flaky));
});

test("this server in the MX list: it and every host of equal or higher preference are dropped", async () => {
  const dns = fakeDns({
    mx: {
      "backup.test": mx([10, "primary.test"], [20, "MX.Self.Test."], [20, "peer.test"], [30, "tertiary.test"]),
      "best.test": mx([10, "mx.self.test"], [20, "other.test"]),
      "byaddress.test": mx([10, "alias-of-me.test"]),
    },
    a: { "primary.test": ["127.0.0.2"], "peer.test": ["127.0.0.3"], "tertiary.test": ["127.0.0.4"], "other.test": ["127.0.0.5"], "alias-of-me.test": ["127.0.0.1"] },
  });
  const router = new Router(dns, options());
  const backup = await router.route("backup.test");
  assert.ok(backup.ok);
  assert.deepEqual(backup.hops.map((h) => h.host), ["primary.test"]);
  const best = await router.route("best.test");
  assert.ok(!best.ok && best.permanent && best.error.startsWith("5.4.6 "));
  const byAddress = await router.route("byaddress.test");
  assert.ok(!byAddress.ok && byAddress.permanent && byAddress.error.startsWith("5.4.6 "));
});

test("address literals go straight to that address; the smarthost replaces MX lookup", async () => {
  const router = new Router(fakeDns({ a: { "relay.test": ["127.0.0.8"] } }), options());
  const literal = await router.route("[127.0.0.9]");
  assert.ok(literal.ok);
  assert.deepEqual(literal.hops[0].addresses, ["127.0.0.9"]);
  const self = await router.route("[127.0.0.1]");
  assert.ok(!self.ok && self.permanent);

  const via = new Router(fakeDns({ a: { "relay.test": ["127.0.0.8"] } }), options({ smarthost: { host: "relay.test", port: 587 } }));
  assert.equal(via.destinationOf("anything.test"), via.destinationOf("other.test"));
  const route = await via.route("anything.test");
  assert.ok(route.ok);
  assert.deepEqual(route.hops.map((h) => [h.host, h.addresses]), [["relay.test", ["127.0.0.8"]]]);
  const missing = await new Router(fakeDns({}), options({ smarthost: { host: "nowhere.test", port: 25 } })).route("x.test");
  assert.ok(!missing.ok && !missing.permanent, "a smarthost without address keeps mail queued");
});
