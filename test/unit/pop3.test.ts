// POP3 pure pieces: the command parser (property: never throws, keyword
// upper-cased, arguments rejoin to the text), dot-stuffing (property: any
// split of any message unstuffs back to itself and ends with CRLF.CRLF) and
// TOP's header-plus-n-lines cut.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parsePop3Command } from "../../src/pop3/command.js";
import { DotStuffer } from "../../src/net/dot-stuffing.js";
import { top } from "../../src/pop3/session.js";

describe("POP3 command parser", () => {
  it("splits keyword and arguments", () => {
    assert.deepEqual(parsePop3Command("retr 1"), { verb: "RETR", args: ["1"], rest: "1" });
    assert.deepEqual(parsePop3Command("PASS a secret with spaces"), { verb: "PASS", args: ["a", "secret", "with", "spaces"], rest: "a secret with spaces" });
    assert.deepEqual(parsePop3Command(""), { verb: "", args: [], rest: "" });
  });

  it("never throws and keeps every argument (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (line) => {
        const c = parsePop3Command(line);
        assert.equal(c.verb, c.verb.toUpperCase());
        assert.ok(!c.args.includes(""));
        assert.equal(c.args.join(" "), c.rest.split(" ").filter(Boolean).join(" "));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("dot-stuffing", () => {
  const unstuff = (wire: string) => {
    assert.ok(wire.endsWith("\r\n.\r\n") || wire === ".\r\n", JSON.stringify(wire.slice(-10)));
    return wire.slice(0, -3).replace(/^\./gm, "");
  };

  it("stuffs leading dots and terminates", () => {
    const s = new DotStuffer();
    assert.equal(Buffer.concat([s.push(Buffer.from(".a\r\nb\r\n..c\r\n")), s.end()]).toString(), "..a\r\nb\r\n...c\r\n.\r\n");
  });

  it("adds a CRLF before the terminator when the data lacks one", () => {
    const s = new DotStuffer();
    assert.equal(Buffer.concat([s.push(Buffer.from("no newline")), s.end()]).toString(), "no newline\r\n.\r\n");
  });

  it("unstuffs back to the message however it is split (property)", () => {
    const line = fc.tuple(fc.boolean(), fc.stringMatching(/^[ -~]{0,20}$/)).map(([dot, s]) => (dot ? `.${s}` : s));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 8 }), (lines, cuts) => {
        const message = Buffer.from(lines.map((l) => `${l}\r\n`).join(""));
        const points = [...new Set(cuts.map((c) => c % (message.length + 1)))].sort((a, b) => a - b);
        const s = new DotStuffer();
        const out: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, message.length]) {
          out.push(s.push(message.subarray(prev, p)));
          prev = p;
        }
        out.push(s.end());
        assert.equal(unstuff(Buffer.concat(out).toString()), message.toString());
      }),
      { numRuns: 500 },
    );
  });
});

describe("TOP", () => {
  it("keeps the header, the blank line and n body lines", () => {
    const m = Buffer.from("A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n");
    assert.equal(top(m, 0).toString(), "A: 1\r\nB: 2\r\n\r\n");
    assert.equal(top(m, 2).toString(), "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
    assert.equal(top(m, 99).toString(), m.toString());
  });
});
