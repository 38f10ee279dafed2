// Modified UTF-7 (RFC 3501 §5.1.3): RFC examples, refusal of every
// non-canonical or broken form, and properties: round trip for any Unicode
// string, and "decode accepts only what encode produces".
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMutf7, encodeMutf7 } from "../../src/imap/mutf7.js";

describe("modified UTF-7", () => {
  it("decodes and encodes the RFC 3501 examples", () => {
    assert.equal(decodeMutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/台北/日本語");
    assert.equal(encodeMutf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  });

  it("handles &, accents, emoji and plain ASCII", () => {
    const cases: Array<[string, string]> = [
      ["&", "&-"],
      ["Tom & Jerry", "Tom &- Jerry"],
      ["Entwürfe", "Entw&APw-rfe"],
      ["éé", "&AOkA6Q-"],
      ["☺!", "&Jjo-!"],
      ["😀", "&2D3eAA-"],
      ["INBOX/Sent Items", "INBOX/Sent Items"],
      ["", ""],
      ["a\tb", "a&AAk-b"],
    ];
    for (const [text, wire] of cases) {
      assert.equal(encodeMutf7(text), wire, text);
      assert.equal(decodeMutf7(wire), text, wire);
    }
  });

  it("refuses non-canonical and broken encodings", () => {
    for (const bad of [
      "&AGE-", // "a" must stand for itself
      "&ACY-", // "&" must be "&-"
      "&AOk-&AOk-", // two shifts side by side
      "&AOk", // unterminated
      "a&",
      "&A/k-", // "/" is not modified base64
      "&AOl-", // non-zero pad bits
      "&AOkA-", // a spare base64 character
      "&AO-", // fewer than 16 bits
      "&AOkA6-", // odd octet count
      "&2D0-", // lone high surrogate
      "&3gA-", // lone low surrogate
      "&2D3YPQ-", // high surrogate followed by a high surrogate
      "caf\u00e9", // 8-bit
      "a\tb", // control character
      "a\x7f",
    ]) {
      assert.equal(decodeMutf7(bad), undefined, bad);
    }
  });

  it("round-trips any Unicode string (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
        const wire = encodeMutf7(text);
        assert.match(wire, /^[\x20-\x7e]*$/);
        assert.equal(decodeMutf7(wire), text);
      }),
      { numRuns: 3000 },
    );
  });

  it("accepts only canonical encodings (property)", () => {
    const wireish = fc.array(fc.constantFrom("&", "-", "A", "O", "k", "2", "D", "3", "e", ",", "+", "a", "b", " ", "/", "é"), { maxLength: 16 }).map((a) => a.join(""));
    fc.assert(
      fc.property(fc.oneof(wireish, fc.string({ unit: "binary-ascii", maxLength: 20 })), (wire) => {
        const text = decodeMutf7(wire);
        if (text !== undefined) assert.equal(encodeMutf7(text), wire);
      }),
      { numRuns: 5000 },
    );
  });
});
