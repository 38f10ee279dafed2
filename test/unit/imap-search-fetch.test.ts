// SEARCH / SORT / THREAD key trees and FETCH items, from real reader tokens:
// RFC examples, every key, charsets, RETURN options, nesting limits, BODY[]
// sections and response names; property: random token soup never throws.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandReader, type Token } from "../../src/imap/reader.js";
import { BADCHARSET, parseSearch, parseSearchKeys, parseSort, parseSortCriteria, parseThread, type SearchKey } from "../../src/imap/search-parse.js";
import { formatSection, parseFetchItems, responseName, type FetchItem } from "../../src/imap/fetch-parse.js";

function argsOf(text: string): Token[] {
  const events = new CommandReader().push(Buffer.from(`t X ${text}\r\n`, "utf8"));
  const e = events[0];
  assert.ok(e?.kind === "command", JSON.stringify(events));
  return e.args;
}

const key = (text: string): SearchKey => {
  const r = parseSearchKeys(argsOf(text));
  assert.ok(r.ok, `${text}: ${!r.ok ? r.error : ""}`);
  return r.value;
};
const set = (from: number | "*", to = from) => ({ kind: "set" as const, ranges: [{ from, to }] });

describe("SEARCH keys", () => {
  it("parses the RFC 9051 example", () => {
    const r = parseSearch(argsOf('FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'));
    assert.deepEqual(r, {
      ok: true,
      value: {
        charset: "UTF-8",
        key: {
          k: "and",
          keys: [
            { k: "flag", flag: "\\Flagged", not: false },
            { k: "date", which: "internal", op: "since", date: { y: 1994, m: 2, d: 1 } },
            { k: "not", key: { k: "header", field: "from", value: "Smith" } },
          ],
        },
      },
    });
  });

  it("parses every simple key", () => {
    const cases: Array<[string, SearchKey]> = [
      ["ALL", { k: "all" }],
      ["answered", { k: "flag", flag: "\\Answered", not: false }],
      ["UNDELETED", { k: "flag", flag: "\\Deleted", not: true }],
      ["DRAFT", { k: "flag", flag: "\\Draft", not: false }],
      ["UNDRAFT", { k: "flag", flag: "\\Draft", not: true }],
      ["UNFLAGGED", { k: "flag", flag: "\\Flagged", not: true }],
      ["SEEN", { k: "flag", flag: "\\Seen", not: false }],
      ["UNSEEN", { k: "flag", flag: "\\Seen", not: true }],
      ["UNANSWERED", { k: "flag", flag: "\\Answered", not: true }],
      ["DELETED", { k: "flag", flag: "\\Deleted", not: false }],
      ["KEYWORD $Junk", { k: "flag", flag: "$Junk", not: false }],
      ["UNKEYWORD work", { k: "flag", flag: "work", not: true }],
      ["NEW", { k: "new" }],
      ["OLD", { k: "old" }],
      ["RECENT", { k: "recent" }],
      ["BCC x", { k: "header", field: "bcc", value: "x" }],
      ["CC x", { k: "header", field: "cc", value: "x" }],
      ["TO {3+}\r\nb@c", { k: "header", field: "to", value: "b@c" }],
      ['SUBJECT "Grüße"', { k: "header", field: "subject", value: "Grüße" }],
      ['HEADER Message-ID "<a@b>"', { k: "header", field: "message-id", value: "<a@b>" }],
      ['HEADER X-Spam ""', { k: "header", field: "x-spam", value: "" }],
      ["BODY hello", { k: "body", value: "hello" }],
      ["TEXT hello", { k: "text", value: "hello" }],
      ["BEFORE 1-Jan-2020", { k: "date", which: "internal", op: "before", date: { y: 2020, m: 1, d: 1 } }],
      ['ON "31-Dec-1999"', { k: "date", which: "internal", op: "on", date: { y: 1999, m: 12, d: 31 } }],
      ["SENTBEFORE 2-Mar-2021", { k: "date", which: "sent", op: "before", date: { y: 2021, m: 3, d: 2 } }],
      ["SENTON 2-Mar-2021", { k: "date", which: "sent", op: "on", date: { y: 2021, m: 3, d: 2 } }],
      ["SENTSINCE 2-Mar-2021", { k: "date", which: "sent", op: "since", date: { y: 2021, m: 3, d: 2 } }],
      ["LARGER 1000", { k: "size", op: "larger", n: 1000 }],
      ["SMALLER 0", { k: "size", op: "smaller", n: 0 }],
      ["UID 1:*", { k: "uid", set: set(1, "*") }],
      ["UID $", { k: "uid", set: { kind: "saved" } }],
      ["2:4", { k: "seq", set: set(2, 4) }],
      ["$", { k: "seq", set: { kind: "saved" } }],
      ["MODSEQ 620162338", { k: "modseq", n: 620162338 }],
      ['MODSEQ "/flags/\\\\draft" all 620162338', { k: "modseq", n: 620162338, entry: { flag: "\\Draft", type: "all" } }],
      ["OR SEEN FLAGGED", { k: "or", a: { k: "flag", flag: "\\Seen", not: false }, b: { k: "flag", flag: "\\Flagged", not: false } }],
      ["(SEEN)", { k: "flag", flag: "\\Seen", not: false }],
      ["(SEEN 1:2)", { k: "and", keys: [{ k: "flag", flag: "\\Seen", not: false }, { k: "seq", set: set(1, 2) }] }],
    ];
    for (const [text, expected] of cases) assert.deepEqual(key(text), expected, text);
  });

  it("refuses bad keys with a reason", () => {
    for (const bad of ["", "FOO", "FROM", "BEFORE 1-Feb", "LARGER x", "UID", "UID x", "OR SEEN", "NOT", "()", "HEADER a:b x", "KEYWORD \\Recent", "MODSEQ", 'MODSEQ "/x/y" all 1', 'MODSEQ "/flags/a" some 1', "0", "BODY (x)"]) {
      const r = parseSearchKeys(bad === "" ? [] : argsOf(bad));
      assert.ok(!r.ok && r.error.length > 0, bad);
    }
  });

  it("limits nesting of parentheses, NOT and OR", () => {
    assert.equal(parseSearchKeys(argsOf("NOT ".repeat(100) + "SEEN")).ok, false);
    assert.equal(parseSearchKeys(argsOf("NOT ".repeat(10) + "SEEN")).ok, true);
    assert.equal(parseSearchKeys(argsOf("OR ".repeat(40) + "SEEN ".repeat(41))).ok, false);
    assert.equal(parseSearchKeys(argsOf("(".repeat(20) + "SEEN" + ")".repeat(20)), { maxDepth: 10 }).ok, false);
  });

  it("handles CHARSET and RETURN", () => {
    const r = parseSearch(argsOf("RETURN (MIN COUNT min) CHARSET us-ascii ALL"));
    assert.deepEqual(r, { ok: true, value: { charset: "US-ASCII", returnOptions: ["MIN", "COUNT"], key: { k: "all" } } });
    const empty = parseSearch(argsOf("RETURN () UNSEEN"));
    assert.ok(empty.ok && empty.value.returnOptions?.join() === "ALL");
    const save = parseSearch(argsOf("RETURN (SAVE) UNSEEN"));
    assert.ok(save.ok && save.value.returnOptions?.join() === "SAVE");
    const badcs = parseSearch(argsOf("CHARSET KOI8-R ALL"));
    assert.ok(!badcs.ok && badcs.code === BADCHARSET);
    // CONTEXT=SEARCH (RFC 5267 §4.4): PARTIAL takes a range, normalised low:high.
    const partial = parseSearch(argsOf("RETURN (PARTIAL 10:1 UPDATE) ALL"));
    assert.ok(partial.ok && partial.value.partial?.low === 1 && partial.value.partial.high === 10 && partial.value.returnOptions?.includes("UPDATE"));
    for (const bad of ["RETURN (PARTIAL) ALL", "RETURN (PARTIAL 0:5) ALL", "RETURN (PARTIAL x) ALL"]) assert.equal(parseSearch(argsOf(bad)).ok, false, bad);
    assert.equal(parseSearch(argsOf("RETURN ALL")).ok, false);
    assert.equal(parseSearch(argsOf("CHARSET UTF-8")).ok, false);
  });

  it("parses SORT and THREAD", () => {
    assert.deepEqual(parseSortCriteria(argsOf("(REVERSE date subject)")[0]), { ok: true, value: [{ key: "DATE", reverse: true }, { key: "SUBJECT", reverse: false }] });
    for (const bad of ["()", "(REVERSE)", "(REVERSE REVERSE DATE)", "(FOO)", "DATE"]) assert.equal(parseSortCriteria(argsOf(bad)[0]).ok, false, bad);
    const sort = parseSort(argsOf("(ARRIVAL) UTF-8 SINCE 1-Feb-1994"));
    assert.ok(sort.ok && sort.value.charset === "UTF-8" && sort.value.key.k === "date");
    assert.equal(parseSort(argsOf("(ARRIVAL) ALL")).ok, false); // charset is mandatory
    const thread = parseThread(argsOf("references US-ASCII UNDELETED"));
    assert.ok(thread.ok && thread.value.algorithm === "REFERENCES");
    assert.equal(parseThread(argsOf("REFS UTF-8 ALL"), { algorithms: ["REFERENCES"] }).ok, false);
    assert.equal(parseThread(argsOf("ORDEREDSUBJECT UTF-8")).ok, false);
  });
});

describe("FETCH items", () => {
  const items = (text: string, uid = false) => {
    const r = parseFetchItems(argsOf(text), { uid });
    assert.ok(r.ok, `${text}: ${!r.ok ? r.error : ""}`);
    return r.value;
  };

  it("expands macros", () => {
    assert.deepEqual(items("all").items.map(responseName), ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]);
    assert.deepEqual(items("FAST").items.map(responseName), ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]);
    assert.deepEqual(items("FULL"), { items: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"].map((kind) => ({ kind })) as FetchItem[], macro: "FULL", vanished: false });
    assert.equal(parseFetchItems(argsOf("(ALL)")).ok, false);
  });

  it("parses simple items, one or in a list", () => {
    assert.deepEqual(items("uid").items, [{ kind: "UID" }]);
    assert.deepEqual(items("(FLAGS RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE MODSEQ INTERNALDATE)").items.map(responseName), [
      "FLAGS", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE", "MODSEQ", "INTERNALDATE",
    ]);
  });

  it("parses BODY sections and partials", () => {
    const r = items("(BODY[] BODY.PEEK[HEADER] BODY[1.2.MIME] BODY[3.TEXT]<10.20> body.peek[HEADER.FIELDS (From To)]<0.100> BODY[2.HEADER.FIELDS.NOT (\"X-Odd(\" Received)] BODY[1])").items;
    assert.deepEqual(r, [
      { kind: "section", peek: false, section: { part: [] } },
      { kind: "section", peek: true, section: { part: [], text: "HEADER" } },
      { kind: "section", peek: false, section: { part: [1, 2], text: "MIME" } },
      { kind: "section", peek: false, section: { part: [3], text: "TEXT" }, partial: { offset: 10, length: 20 } },
      { kind: "section", peek: true, section: { part: [], text: "HEADER.FIELDS", fields: ["From", "To"] }, partial: { offset: 0, length: 100 } },
      { kind: "section", peek: false, section: { part: [2], text: "HEADER.FIELDS.NOT", fields: ["X-Odd(", "Received"] } },
      { kind: "section", peek: false, section: { part: [1] } },
    ]);
    assert.deepEqual(r.map(responseName), [
      "BODY[]", "BODY[HEADER]", "BODY[1.2.MIME]", "BODY[3.TEXT]<10>", "BODY[HEADER.FIELDS (From To)]<0>", 'BODY[2.HEADER.FIELDS.NOT ("X-Odd(" Received)]', "BODY[1]",
    ]);
    assert.equal(formatSection({ part: [4, 1], text: "HEADER" }), "4.1.HEADER");
  });

  it("parses BINARY items", () => {
    const r = items("(BINARY[1]<0.5> BINARY.PEEK[] BINARY.SIZE[2.1])").items;
    assert.deepEqual(r, [
      { kind: "binary", peek: false, part: [1], partial: { offset: 0, length: 5 } },
      { kind: "binary", peek: true, part: [] },
      { kind: "binary.size", part: [2, 1] },
    ]);
    assert.deepEqual(r.map(responseName), ["BINARY[1]<0>", "BINARY[]", "BINARY.SIZE[2.1]"]);
  });

  it("parses CHANGEDSINCE and VANISHED", () => {
    assert.deepEqual(items("(FLAGS) (CHANGEDSINCE 12345)"), { items: [{ kind: "FLAGS" }], changedSince: 12345, vanished: false });
    assert.deepEqual(items("(FLAGS) (CHANGEDSINCE 1 VANISHED)", true).vanished, true);
    assert.equal(parseFetchItems(argsOf("(FLAGS) (CHANGEDSINCE 1 VANISHED)")).ok, false);
    assert.equal(parseFetchItems(argsOf("(FLAGS) (VANISHED)"), { uid: true }).ok, false);
    assert.equal(parseFetchItems(argsOf("(FLAGS) (FOO 1)")).ok, false);
    assert.equal(parseFetchItems(argsOf("(FLAGS) (CHANGEDSINCE x)")).ok, false);
  });

  it("refuses bad items with a reason", () => {
    for (const bad of [
      "()", "FOO", "(FLAGS FOO)", "BODY[0]", "BODY[01]", "BODY[MIME]", "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]", "BODY[TEXT (x)]", "BODY[1.FOO]",
      "BODY[]<0>", "BODY[]<0.0>", "BODY[]<x.1>", "BODY[]]", "BINARY[TEXT]", "BINARY[1 2]", "BINARY.SIZE[1]<0.1>", "BODY[HEADER.FIELDS (a:b)]", '"FLAGS"', "(FLAGS) x",
      "(FLAGS) (a) (b)",
    ]) {
      const r = parseFetchItems(argsOf(bad));
      assert.ok(!r.ok && r.error.length > 0, bad);
    }
  });
});

describe("argument parsers: properties", () => {
  it("never throw on random token trees", () => {
    const tok: fc.Memo<Token> = fc.memo((depth) =>
      fc.oneof(
        { depthSize: "small" },
        fc.constantFrom("ALL", "OR", "NOT", "UID", "1:*", "$", "HEADER", "MODSEQ", "BODY", "FLAGS", "CHANGEDSINCE", "VANISHED", "RETURN", "CHARSET", "REVERSE", "x", "0", "99999999999999999999").map((v): Token => ({ t: "atom", v })),
        fc.string({ maxLength: 6 }).map((v): Token => ({ t: "atom", v })),
        fc.uint8Array({ maxLength: 6 }).map((u): Token => ({ t: "string", v: Buffer.from(u), literal: false })),
        fc.constant<Token>({ t: "nil", v: "NIL" }),
        fc.tuple(fc.constantFrom("BODY", "BINARY.PEEK", "BINARY.SIZE"), fc.string({ maxLength: 8 })).map(([prefix, suffix]): Token => ({ t: "atom", v: `${prefix}[]${suffix}`, section: { prefix, inner: [], suffix } })),
        depth > 1 ? fc.array(tok(depth - 1), { maxLength: 4 }).map((v): Token => ({ t: "list", v })) : fc.constant<Token>({ t: "list", v: [] }),
      ),
    );
    fc.assert(
      fc.property(fc.array(tok(4), { maxLength: 8 }), (args) => {
        for (const r of [parseSearch(args), parseSort(args), parseThread(args), parseFetchItems(args), parseFetchItems(args, { uid: true })]) {
          assert.equal(typeof r.ok, "boolean");
          if (!r.ok) assert.ok(r.error.length > 0);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
