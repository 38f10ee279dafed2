// Config loading: defaults, validation errors that name the key and the file,
// unknown keys refused, units, and a property test that no input crashes the
// loader with anything but a ConfigError.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { ConfigError, parseConfigText } from "../../src/config/load.js";
import { parseDuration, parseSize } from "../../src/config/units.js";
import { configReference } from "../../src/config/reference.js";
import { projectRoot } from "../helpers/petrel.js";

describe("config", () => {
  it("gives loopback-only defaults on unprivileged ports", () => {
    const c = parseConfigText("", "petrel.toml");
    assert.equal(c.data_dir, "./data");
    assert.equal(c.listen.smtp, "127.0.0.1:2525");
    for (const address of Object.values(c.listen)) assert.match(address as string, /^127\.0\.0\.1:2\d{3}$/);
    assert.equal(c.smtp.max_message_size, 25 * 1024 * 1024);
    assert.equal(c.smtp.max_recipients, 100);
    assert.deepEqual(c.relay.networks, ["127.0.0.0/8", "::1/128"]);
    assert.equal(c.smtp.command_timeout, 300_000);
  });

  it("reads the OPERATOR.md example keys", () => {
    const c = parseConfigText(
      `hostname = "mail.example.test"\ndata_dir = "/var/lib/petrel"\n[listen]\nsmtp = "0.0.0.0:25"\n[smtp]\nmax_message_size = "10M"\nmax_recipients = 50\n` +
        `[relay]\nnetworks = ["10.0.0.0/8", "2001:db8::/32"]\ndomains = ["partner.example"]\nsmarthost = "smtp.isp.test:587"\n[dns]\nservers = ["127.0.0.1:5353"]\n[delivery]\nremote_port = 2525\n`,
      "x.toml",
    );
    assert.equal(c.hostname, "mail.example.test");
    assert.deepEqual(Object.keys(c.listen), ["smtp"]);
    assert.equal(c.smtp.max_message_size, 10 * 1024 * 1024);
    assert.deepEqual(c.dns.servers, ["127.0.0.1:5353"]);
    assert.equal(c.delivery.remote_port, 2525);
  });

  it("refuses unknown keys, naming the key and the file", () => {
    assert.throws(() => parseConfigText(`[smtp]\nmax_mesage_size = "1M"\n`, "/etc/petrel.toml"), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /\/etc\/petrel\.toml/);
      assert.match(err.message, /smtp\.max_mesage_size/);
      return true;
    });
    assert.throws(() => parseConfigText(`hostnam = "x"\n`, "a.toml"), /unknown key "hostnam"/);
  });

  it("refuses wrong types and bad values, naming the key", () => {
    assert.throws(() => parseConfigText(`[smtp]\nmax_recipients = "many"\n`, "a.toml"), /a\.toml: key "smtp\.max_recipients"/);
    assert.throws(() => parseConfigText(`[smtp]\nmax_message_size = "huge"\n`, "a.toml"), /smtp\.max_message_size.*not a size/);
    assert.throws(() => parseConfigText(`[smtp]\ncommand_timeout = "5 minutes"\n`, "a.toml"), /smtp\.command_timeout.*not a duration/);
    assert.throws(() => parseConfigText(`[listen]\nsmtp = "localhost"\n`, "a.toml"), /listen\.smtp/);
    assert.throws(() => parseConfigText(`[relay]\nnetworks = ["everyone"]\n`, "a.toml"), /relay\.networks/);
    assert.throws(() => parseConfigText(`[relay]\nnetworks = ["10.0.0.0/33"]\n`, "a.toml"), /relay\.networks\.0/);
    assert.throws(() => parseConfigText(`this is = not toml [`, "a.toml"), /a\.toml: not valid TOML/);
  });

  it("parses sizes and durations", () => {
    assert.equal(parseSize("25M"), 26_214_400);
    assert.equal(parseSize("2G"), 2 * 1024 ** 3);
    assert.equal(parseSize("512k"), 524_288);
    assert.equal(parseSize("1000"), 1000);
    assert.equal(parseSize("M"), undefined);
    assert.equal(parseDuration("30s"), 30_000);
    assert.equal(parseDuration("10m"), 600_000);
    assert.equal(parseDuration("5d"), 432_000_000);
    assert.equal(parseDuration("5"), undefined);
  });

  it("never fails on any input with anything but a ConfigError", () => {
    const toml = fc.oneof(
      fc.string(),
      fc.dictionary(fc.constantFrom("hostname", "data_dir", "listen", "smtp", "relay", "dns", "x"), fc.jsonValue()).map((o) => JSON.stringify(o).replace(/[{}]/g, "")),
      fc.record({ section: fc.constantFrom("smtp", "listen", "relay", "dns", "tls", "log"), key: fc.string(), value: fc.oneof(fc.integer().map(String), fc.string().map((s) => JSON.stringify(s)), fc.constant("[1, \"a\"]")) })
        .map(({ section, key, value }) => `[${section}]\n${JSON.stringify(key)} = ${value}\n`),
    );
    fc.assert(
      fc.property(toml, (text) => {
        try {
          parseConfigText(text, "fuzz.toml");
        } catch (err) {
          assert.ok(err instanceof ConfigError, `unexpected ${(err as Error).stack}`);
          assert.match((err as Error).message, /^fuzz\.toml: /);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("README's configuration reference is the one generated from the schema", () => {
    const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8");
    const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    assert.ok(m, "README.md lacks the config-reference markers");
    assert.equal(m[1], configReference(), "README.md is stale: paste the output of `petrel config reference`");
  });
});
