// SORT and THREAD (RFC 5256, RFC 5957) without a server: base subject
// extraction with the RFC's tricky cases (blobs, refwd with blobs, "(fwd)"
// trailers, "[fwd: ...]" wrappers, RFC 2047 first), sent dates, address
// keys, the i;ascii-casemap collation, sort ordering with REVERSE and ties;
// ORDEREDSUBJECT and REFERENCES, the RFC's thread-list examples, and hostile
// Message-IDs (missing, duplicate, looping, self-referencing, very deep)
// that must never crash or loop. Property: random reference soup always
// gives a well-formed thread-list with every message exactly once.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseHeader } from "../../src/mime/header.js";
import {
  addressDisplay, addressMailbox, baseSubject, casemapKey, criteriaNeedHeader, headerInfo, parseMessageDate, sentDate, sortItems,
  type HeaderInfo, type SortItem,
} from "../../src/imap/sort.js";
import { formatThreads, messageIds, referencesOf, threadOrderedSubject, threadReferences } from "../../src/imap/thread.js";
import type { SortCriterion } from "../../src/imap/search-parse.js";

const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/** A message: seq, and header fields given as text (binary strings where ASCII). */
function msg(seq: number, header: HeaderInfo = {}, extra: Partial<SortItem> = {}): SortItem {
  return { seq, uid: seq * 10, size: 100, internalDate: T0 + seq * HOUR, header, ...extra };
}

/** A Date header value `hours` after T0. */
const at = (hours: number) => new Date(T0 + hours * HOUR).toUTCString();

const seqs = (items: SortItem[]) => items.map((i) => i.seq);
const sortBy = (items: SortItem[], text: string) =>
  seqs(sortItems(items, text.split(" ").reduce<SortCriterion[]>((acc, w, i, all) => {
    if (w === "REVERSE") return acc;
    acc.push({ key: w as SortCriterion["key"], reverse: all[i - 1] === "REVERSE" });
    return acc;
  }, [])));

const refs = (items: SortItem[]) => formatThreads(threadReferences(items), (i) => i.seq);
const ordered = (items: SortItem[]) => formatThreads(threadOrderedSubject(items), (i) => i.seq);

/** Checks the RFC 5256 §4 thread-list syntax and returns the numbers in order. */
function parseThreadLists(text: string): number[] {
  const numbers: number[] = [];
  let i = 0;
  const expect = (c: string) => {
    assert.equal(text[i], c, `expected ${c} at ${i} in ${text}`);
    i++;
  };
  const list = (): void => {
    expect("(");
    if (text[i] === "(") nested();
    else {
      members();
    }
    expect(")");
  };
  const nested = () => {
    let n = 0;
    while (text[i] === "(") {
      list();
      n++;
    }
    assert.ok(n >= 2, `thread-nested needs two thread-lists at ${i} in ${text}`);
  };
  const members = () => {
    for (;;) {
      const m = /^[1-9]\d*/.exec(text.slice(i));
      assert.ok(m, `number expected at ${i} in ${text}`);
      numbers.push(Number(m[0]));
      i += m[0].length;
      if (text[i] !== " ") return;
      i++;
      if (text[i] === "(") return nested();
    }
  };
  while (i < text.length) list();
  return numbers;
}

describe("base subject (RFC 5256 §2.1)", () => {
  const cases: [string, string, boolean][] = [
    ["foo", "foo", false],
    ["Re: foo", "foo", true],
    ["RE: re: Re:foo", "foo", true],
    ["Fwd: foo", "foo", true],
    ["FW: foo", "foo", true],
    ["fw : foo", "foo", true], // *WSP before the colon
    ["Re[2]: foo", "foo", true], // subj-refwd with its subj-blob
    ["Re [PATCH 1/2] : foo", "foo", true],
    ["[list] Re: foo", "foo", true], // subj-leader = *subj-blob subj-refwd
    ["[list][other] Re: [x] foo", "foo", true],
    ["Re: [list] foo", "foo", true], // (4) a blob followed by more text goes
    ["[a] [b] foo", "foo", false],
    ["[a] [b]", "[b]", false], // (4) the last blob stays when it is all that is left
    ["[foo]", "[foo]", false],
    ["Re: [foo]", "[foo]", true],
    ["foo (fwd)", "foo", true], // subj-trailer
    ["foo (FWD) (fwd)   ", "foo", true],
    ["foo(fwd)", "foo", true],
    ["[fwd: foo]", "foo", true], // (6) subj-fwd
    ["[Fwd: Re: [list] foo (fwd)]", "foo", true],
    ["Re: [fwd: [list] foo] (fwd)", "foo", true],
    ["[fwd: [fwd: foo]]", "foo", true],
    ["[fwd: foo] bar", "bar", false], // not wrapped: the blob goes, "bar" stays
    ["[x] [fwd: y]", "y", true],
    ["[fwd: foo", "[fwd: foo", false],
    ["Reply: foo", "Reply: foo", false], // "re" must be followed by *WSP [blob] ":"
    ["Ref: foo", "Ref: foo", false],
    ["Fwdd: foo", "Fwdd: foo", false],
    ["re [a] [b]: c", "re [a] [b]: c", false], // at most one blob inside subj-refwd
    ["fwd[x] foo", "fwd[x] foo", false],
    ["[a]re: b", "b", true],
    ["Re:", "", true],
    ["Re: Fwd:  ", "", true],
    ["", "", false],
    ["   ", "", false],
    ["  foo \t  bar  ", "foo bar", false], // (1) tabs to spaces, runs to one space
    ["foo\r\n bar", "foo bar", false],
    ["=?utf-8?q?Re=3A_caf=C3=A9?=", "café", true], // (1) RFC 2047 before anything else
    ["=?iso-8859-1?q?=5Bliste=5D?= Re: =?utf-8?b?R3LDvMOfZQ==?=", "Grüße", true],
    ["Re: =?utf-8?q?foo?= =?utf-8?q?bar?=", "foobar", true],
  ];
  for (const [input, base, rf] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(baseSubject(input), { subject: base, replyOrForward: rf }));
  }

  it("is linear on hostile subjects (blobs, nested [fwd:], leaders, unterminated blobs)", () => {
    const n = 200_000;
    const started = Date.now();
    assert.equal(baseSubject("[x]".repeat(n) + "foo").subject, "foo");
    assert.equal(baseSubject("[x] ".repeat(n)).subject, "[x]");
    assert.equal(baseSubject("[fwd: ".repeat(n / 10) + "x" + "]".repeat(n / 10)).subject, "x");
    assert.equal(baseSubject("Re: ".repeat(n) + "x").subject, "x");
    assert.equal(baseSubject("[".repeat(n)).subject, "[".repeat(n));
    assert.equal(baseSubject(" (fwd)".repeat(n)).subject, "");
    assert.equal(baseSubject("[a".repeat(n) + "]").subject.length, 2 * n + 1);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});

describe("sort keys", () => {
  it("parses RFC 5322 dates, obsolete forms included, to UTC", () => {
    assert.equal(parseMessageDate("Mon, 14 Jul 2025 10:00:00 +0200"), Date.UTC(2025, 6, 14, 8));
    assert.equal(parseMessageDate("14 Jul 2025 10:00 -0130"), Date.UTC(2025, 6, 14, 11, 30));
    assert.equal(parseMessageDate("Thu, 1 Jan 1970 00:00:00 GMT"), 0);
    assert.equal(parseMessageDate("Fri, 21 Nov 97 09:55:06 EST"), Date.UTC(1997, 10, 21, 14, 55, 6));
    assert.equal(parseMessageDate("21 Nov 03 09:55:06 PDT"), Date.UTC(2003, 10, 21, 16, 55, 6));
    assert.equal(parseMessageDate("Tue, 1 Jul 2003 10:52:37 +0200 (CEST)"), Date.UTC(2003, 6, 1, 8, 52, 37));
    assert.equal(parseMessageDate("Tue,\r\n 1 Jul 2003\r\n 10:52:37 Z"), Date.UTC(2003, 6, 1, 10, 52, 37));
    assert.equal(parseMessageDate("1 Jul 103 10:52:37 +0000"), Date.UTC(2003, 6, 1, 10, 52, 37));
    assert.equal(parseMessageDate("29 Feb 2024 00:00:00 +0000"), Date.UTC(2024, 1, 29));
    for (const bad of ["", "garbage", "29 Feb 2023 00:00:00 +0000", "32 Jan 2024 00:00 +0000", "1 Foo 2024 00:00 +0000", "1 Jan 2024 24:00 +0000", "1 Jan 2024"]) {
      assert.equal(parseMessageDate(bad), undefined, bad);
    }
  });

  it("DATE is the sent date, else INTERNALDATE (§2.2)", () => {
    assert.equal(sentDate(msg(1, { date: "Thu, 1 Jan 1970 00:00:01 +0000" })), 1000);
    assert.equal(sentDate(msg(1, { date: "yesterday" })), T0 + HOUR);
    assert.equal(sentDate(msg(2, {})), T0 + 2 * HOUR);
    assert.equal(sentDate({ seq: 3, uid: 3, size: 1, internalDate: 5 }), 5);
  });

  it("FROM/TO/CC: the local part of the first address; DISPLAYFROM/TO: the decoded name, else the address (RFC 5957)", () => {
    assert.equal(addressMailbox('"Zed" <Alice.Smith@Example.test>, bob@example.test'), "alice.smith");
    assert.equal(addressMailbox('"quoted local"@example.test'), "quoted local");
    assert.equal(addressMailbox("undisclosed-recipients:;"), "undisclosed-recipients"); // a group: its name, as in ENVELOPE
    assert.equal(addressMailbox(""), "");
    assert.equal(addressMailbox(undefined), "");
    assert.equal(addressMailbox("Just A Name"), "");
    assert.equal(addressDisplay("=?utf-8?q?J=C3=B6rg?= <jorg@example.test>"), "Jörg");
    assert.equal(addressDisplay("bob@example.test (Bob Comment)"), "Bob Comment");
    assert.equal(addressDisplay('"" <bob@example.test>'), "bob@example.test");
    assert.equal(addressDisplay("<bob@example.test>"), "bob@example.test");
    assert.equal(addressDisplay("localonly"), "localonly");
    assert.equal(addressDisplay(undefined), "");
  });

  it("i;ascii-casemap: ASCII letters without case, other bytes as they are (UTF-8 order)", () => {
    const cmp = (a: string, b: string) => Math.sign(Buffer.compare(casemapKey(a), casemapKey(b)));
    assert.equal(cmp("abc", "ABC"), 0);
    assert.equal(cmp("a", "B"), -1);
    assert.equal(cmp("Z", "a"), 1);
    assert.equal(cmp("[", "a"), 1); // "a" maps to "A" (0x41), below "[" (0x5B)
    assert.equal(cmp("z", "é"), -1);
    assert.equal(cmp("é", "É"), 1); // not ASCII: no case folding
    assert.equal(cmp("\uffff", "😀"), -1); // code point order, not UTF-16
  });

  it("copies the needed fields out of a header", () => {
    const raw = Buffer.from("From: a@x\r\nFrom: b@x\r\nSubject: Re: hi\r\nMessage-ID: <1@x>\r\nReferences: <0@x>\r\n\r\nbody Subject: no\r\n");
    assert.deepEqual(headerInfo(parseHeader(raw)), { subject: "Re: hi", from: "a@x,b@x", messageId: "<1@x>", references: "<0@x>" });
    assert.equal(criteriaNeedHeader([{ key: "ARRIVAL", reverse: false }, { key: "SIZE", reverse: true }]), false);
    assert.equal(criteriaNeedHeader([{ key: "SIZE", reverse: false }, { key: "CC", reverse: false }]), true);
  });
});

describe("SORT ordering", () => {
  const box = [
    msg(1, { subject: "Re: banana", date: at(5), from: "Carol <carol@x>", to: "zed@x", cc: "b@x" }, { size: 300, internalDate: T0 + 9 * HOUR }),
    msg(2, { subject: "apple", date: at(3), from: "alice@x", to: "Yann <yann@x>" }, { size: 100, internalDate: T0 + 8 * HOUR }),
    msg(3, { subject: "[list] Banana", date: at(5), from: "=?utf-8?q?=C3=89mile?= <bob@x>", to: "xavier@x", cc: "a@x" }, { size: 200, internalDate: T0 + 7 * HOUR }),
    msg(4, { subject: "cherry (fwd)", from: "Bob@x" }, { size: 100, internalDate: T0 + 1 * HOUR }),
    msg(5, {}, { size: 50, internalDate: T0 + 6 * HOUR }),
  ];

  it("each key", () => {
    assert.deepEqual(sortBy(box, "ARRIVAL"), [4, 5, 3, 2, 1]);
    assert.deepEqual(sortBy(box, "DATE"), [4, 2, 1, 3, 5]); // 4 and 5 have no Date: their INTERNALDATE counts; 1 and 3 tie: by sequence
    assert.deepEqual(sortBy(box, "SIZE"), [5, 2, 4, 3, 1]);
    assert.deepEqual(sortBy(box, "SUBJECT"), [5, 2, 1, 3, 4]); // "" < apple < banana = Banana < cherry
    assert.deepEqual(sortBy(box, "FROM"), [5, 2, 3, 4, 1]); // "" alice bob Bob carol
    assert.deepEqual(sortBy(box, "TO"), [4, 5, 3, 2, 1]);
    assert.deepEqual(sortBy(box, "CC"), [2, 4, 5, 3, 1]);
    assert.deepEqual(sortBy(box, "DISPLAYFROM"), [5, 2, 4, 1, 3]); // "" alice@x Bob@x Carol Émile (É after ASCII)
    assert.deepEqual(sortBy(box, "DISPLAYTO"), [4, 5, 3, 2, 1]); // "" "" xavier@x Yann zed@x
  });

  it("REVERSE applies to its key only; ties go by sequence number, ascending, even reversed", () => {
    assert.deepEqual(sortBy(box, "REVERSE SIZE"), [1, 3, 2, 4, 5]);
    assert.deepEqual(sortBy(box, "REVERSE DATE"), [5, 1, 3, 2, 4]);
    assert.deepEqual(sortBy(box, "SUBJECT REVERSE DATE"), [5, 2, 1, 3, 4]);
    assert.deepEqual(sortBy(box, "SUBJECT REVERSE ARRIVAL"), [5, 2, 1, 3, 4]);
    assert.deepEqual(sortBy(box, "SUBJECT ARRIVAL"), [5, 2, 3, 1, 4]);
    assert.deepEqual(sortBy(box, "REVERSE SUBJECT SIZE"), [4, 3, 1, 2, 5]);
    assert.deepEqual(sortBy([msg(2), msg(1), msg(3)], "REVERSE SIZE"), [1, 2, 3]);
  });
});

describe("THREAD=ORDEREDSUBJECT", () => {
  it("groups by base subject, sorts each by sent date and the threads by their first message; no grandchildren", () => {
    const items = [
      msg(1, { subject: "foo", date: at(3) }),
      msg(2, { subject: "Re: foo", date: at(4) }),
      msg(3, { subject: "bar", date: at(1) }),
      msg(4, { subject: "RE: [list] FOO", date: at(5) }),
      msg(5, { subject: "Fwd: bar", date: at(2) }),
      msg(6, { subject: "baz", date: at(6) }),
    ];
    assert.equal(ordered(items), "(3 5)(1 (2)(4))(6)");
  });

  it("ties by sequence number; an earlier reply heads its thread; empty subjects are one thread", () => {
    const items = [
      msg(1, { subject: "Re: x", date: at(1) }),
      msg(2, { subject: "x", date: at(2) }),
      msg(3, { subject: "x", date: at(1) }),
      msg(4, { date: at(0) }),
      msg(5, { subject: "Re:", date: at(9) }),
    ];
    assert.equal(ordered(items), "(4 5)(1 (3)(2))");
    assert.equal(ordered([]), "");
  });
});

describe("THREAD=REFERENCES", () => {
  it("the RFC 5256 §4 example thread-list (2)(3 6 (4 23)(44 7 96))", () => {
    const id = (n: number) => `<${n}@x>`;
    const items = [
      msg(2, { messageId: id(2), subject: "two", date: at(1) }),
      msg(3, { messageId: id(3), subject: "three", date: at(2) }),
      msg(4, { messageId: id(4), references: `${id(3)} ${id(6)}`, subject: "Re: three", date: at(4) }),
      msg(6, { messageId: id(6), references: id(3), subject: "Re: three", date: at(3) }),
      msg(7, { messageId: id(7), inReplyTo: `${id(44)} (message of yesterday)`, subject: "Re: three", date: at(7) }),
      msg(23, { messageId: id(23), references: `${id(3)}\r\n ${id(6)} ${id(4)}`, subject: "Re: three", date: at(5) }),
      msg(44, { messageId: id(44), references: `${id(3)} ${id(6)}`, subject: "Re: three", date: at(6) }),
      msg(96, { messageId: id(96), references: `${id(3)} ${id(6)} ${id(44)} ${id(7)}`, subject: "Re: three", date: at(8) }),
    ];
    assert.equal(refs(items), "(2)(3 6 (4 23)(44 7 96))");
    assert.deepEqual(parseThreadLists(refs(items)).sort((a, b) => a - b), [2, 3, 4, 6, 7, 23, 44, 96]);
  });

  it("dummy parents: kept under the root with two or more children ((3)(5)), else replaced by the child", () => {
    assert.equal(refs([
      msg(3, { messageId: "<3@x>", inReplyTo: "<gone@x>", subject: "Re: a", date: at(1) }),
      msg(5, { messageId: "<5@x>", inReplyTo: "<gone@x>", subject: "Re: b", date: at(2) }),
    ]), "((3)(5))");
    assert.equal(refs([msg(3, { messageId: "<3@x>", inReplyTo: "<gone@x>", subject: "Re: a" })]), "(3)");
    // A dummy in the middle of a thread: its children move up to its parent.
    assert.equal(refs([
      msg(1, { messageId: "<1@x>", subject: "a", date: at(1) }),
      msg(2, { messageId: "<2@x>", references: "<1@x> <gone@x>", subject: "Re: a", date: at(2) }),
      msg(3, { messageId: "<3@x>", references: "<1@x> <gone@x>", subject: "Re: a", date: at(3) }),
    ]), "(1 (2)(3))");
    // Dummies under dummies vanish; the root dummy counts its children after pruning.
    assert.equal(refs([
      msg(1, { messageId: "<1@x>", references: "<g1@x> <g2@x>", subject: "p", date: at(1) }),
      msg(2, { messageId: "<2@x>", references: "<g1@x> <g3@x>", subject: "q", date: at(2) }),
    ]), "((1)(2))");
  });

  it("step 4 and 6: threads and siblings by sent date, a dummy by its first child, ties by sequence number", () => {
    assert.equal(refs([
      msg(1, { messageId: "<1@x>", subject: "late", date: at(9) }),
      msg(2, { messageId: "<2@x>", inReplyTo: "<1@x>", subject: "Re: late", date: at(12) }),
      msg(3, { messageId: "<3@x>", inReplyTo: "<1@x>", subject: "Re: late", date: at(10) }),
      msg(4, { messageId: "<4@x>", inReplyTo: "<1@x>", subject: "Re: late" }), // no Date: INTERNALDATE (hour 4)
      msg(5, { messageId: "<5@x>", inReplyTo: "<gone@x>", subject: "m", date: at(7) }),
      msg(6, { messageId: "<6@x>", inReplyTo: "<gone@x>", subject: "n", date: at(6) }),
      msg(7, { messageId: "<7@x>", subject: "early", date: at(6) }),
    ]), "((6)(5))(7)(1 (4)(3)(2))");
  });

  it("step 5: threads with the same base subject merged", () => {
    // The table message is not a reply, the current one is: it becomes a child.
    assert.equal(refs([msg(1, { subject: "foo", date: at(1) }), msg(2, { subject: "Re: foo", date: at(2) })]), "(1 2)");
    // The reply came first: the non-reply replaces it in the table and adopts it.
    assert.equal(refs([msg(1, { subject: "Re: foo", date: at(1) }), msg(2, { subject: "foo", date: at(2) })]), "(2 1)");
    // Neither (or both) replies: a new dummy parent.
    assert.equal(refs([msg(1, { subject: "foo", date: at(1) }), msg(2, { subject: "FOO", date: at(2) })]), "((1)(2))");
    assert.equal(refs([msg(1, { subject: "Re: foo", date: at(1) }), msg(2, { subject: "fwd: foo", date: at(2) }), msg(3, { subject: "[l] foo (fwd)", date: at(3) })]), "((1)(2)(3))");
    // A dummy in the table adopts real messages and merges other dummies' children.
    assert.equal(refs([
      msg(1, { messageId: "<1@x>", subject: "gone", date: at(1) }),
      msg(3, { messageId: "<3@x>", inReplyTo: "<gone@x>", subject: "Re: gone", date: at(2) }),
      msg(5, { messageId: "<5@x>", inReplyTo: "<gone@x>", subject: "Re: gone", date: at(3) }),
      msg(6, { messageId: "<6@x>", inReplyTo: "<other@x>", subject: "Re: gone", date: at(4) }),
      msg(7, { messageId: "<7@x>", inReplyTo: "<other@x>", subject: "Re: gone", date: at(5) }),
    ]), "((1)(3)(5)(6)(7))");
    // Empty subjects never merge.
    assert.equal(refs([msg(1, { subject: "Re:", date: at(1) }), msg(2, { date: at(2) }), msg(3, { subject: "", date: at(3) })]), "(1)(2)(3)");
    // Merging looks at the thread heads only: replies deeper down keep their place.
    assert.equal(refs([
      msg(1, { messageId: "<1@x>", subject: "foo", date: at(1) }),
      msg(2, { messageId: "<2@x>", inReplyTo: "<1@x>", subject: "bar", date: at(2) }),
      msg(3, { messageId: "<3@x>", subject: "bar", date: at(3) }),
    ]), "(1 2)(3)");
  });

  it("missing, invalid and duplicate Message-IDs: distinct messages; the first owner of an ID keeps it", () => {
    assert.equal(refs([
      msg(1, { messageId: "<a@x>", subject: "one", date: at(1) }),
      msg(2, { messageId: "<a@x>", subject: "two", date: at(2) }),
      msg(3, { messageId: "<b@x>", inReplyTo: "<a@x>", subject: "three", date: at(3) }),
      msg(4, { subject: "four", date: at(4) }),
      msg(5, { messageId: "no brackets@x", subject: "five", date: at(5) }),
      msg(6, { messageId: "<no-at-sign>", subject: "six", date: at(6) }),
      msg(7, { messageId: "<>", references: "<> <@> <x@>", subject: "seven", date: at(7) }),
    ]), "(1 3)(2)(4)(5)(6)(7)");
  });

  it("loops in references never loop the server", () => {
    // Two messages naming each other.
    const two = refs([
      msg(1, { messageId: "<a@x>", references: "<b@x>", subject: "a", date: at(1) }),
      msg(2, { messageId: "<b@x>", references: "<a@x>", subject: "b", date: at(2) }),
    ]);
    assert.deepEqual(parseThreadLists(two).sort(), [1, 2]);
    // Self-reference, references through itself, repeated IDs, a three-cycle.
    const items = [
      msg(1, { messageId: "<s@x>", references: "<s@x>", subject: "s", date: at(1) }),
      msg(2, { messageId: "<t@x>", references: "<p@x> <t@x> <q@x>", subject: "t", date: at(2) }),
      msg(3, { messageId: "<u@x>", references: "<p@x> <q@x> <p@x> <q@x> <p@x>", subject: "u", date: at(3) }),
      msg(4, { messageId: "<c1@x>", inReplyTo: "<c3@x>", subject: "c1", date: at(4) }),
      msg(5, { messageId: "<c2@x>", inReplyTo: "<c1@x>", subject: "c2", date: at(5) }),
      msg(6, { messageId: "<c3@x>", inReplyTo: "<c2@x>", subject: "c3", date: at(6) }),
    ];
    const out = refs(items);
    assert.deepEqual(parseThreadLists(out).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
    assert.equal(ordered(items).length > 0, true);
  });

  it("a 50 000-message reply chain: no stack overflow, linear time", () => {
    const n = 50_000;
    const items: SortItem[] = [];
    for (let k = 1; k <= n; k++) items.push(msg(k, { messageId: `<${k}@x>`, inReplyTo: k > 1 ? `<${k - 1}@x>` : undefined, subject: "Re: chain", date: at(k) }));
    const started = Date.now();
    const out = refs(items);
    assert.equal(out, `(${Array.from({ length: n }, (_, k) => k + 1).join(" ")})`);
    // The same chain delivered newest first (each reply names a message not seen yet).
    const reversed = items.map((m, k) => ({ ...m, header: { ...m.header, inReplyTo: k + 1 < n ? `<${k + 2}@x>` : undefined } }));
    assert.equal(refs(reversed), `(${Array.from({ length: n }, (_, k) => n - k).join(" ")})`);
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  });

  it("reads Message IDs leniently: folded, in comments, glued to junk", () => {
    assert.deepEqual(messageIds("<a@x>\r\n <b@\r\n y> (comment <c@z>) <d@w>"), ["a@x", "b@y", "d@w"]);
    assert.deepEqual(messageIds("(only <c@z> in a comment"), ["c@z"]);
    assert.deepEqual(messageIds("junk <junk <e@x> more"), ["e@x"]);
    assert.deepEqual(messageIds("<unterminated@x"), []);
    assert.deepEqual(messageIds(undefined), []);
    assert.deepEqual(referencesOf(msg(1, { references: "garbage", inReplyTo: "<r1@x> <r2@x>" })), ["r1@x"]);
    assert.deepEqual(referencesOf(msg(1, { references: "<a@x> <b@x>", inReplyTo: "<r1@x>" })), ["a@x", "b@x"]);
  });

  it("property: any reference soup gives a well-formed thread-list with every message once", () => {
    const ids = fc.constantFrom("<a@x>", "<b@x>", "<c@x>", "<d@x>", "<e@x>", "<f@x>", "bad", "<>");
    const subjects = fc.constantFrom("", "a", "Re: a", "b", "[x] b (fwd)", "Fwd: c");
    const message = fc.record({
      messageId: fc.option(ids, { nil: undefined }),
      references: fc.option(fc.array(ids, { maxLength: 6 }).map((l) => l.join(" ")), { nil: undefined }),
      inReplyTo: fc.option(ids, { nil: undefined }),
      subject: fc.option(subjects, { nil: undefined }),
      date: fc.option(fc.integer({ min: 0, max: 5 }).map(at), { nil: undefined }),
    });
    fc.assert(fc.property(fc.array(message, { maxLength: 25 }), (headers) => {
      const items = headers.map((h, i) => {
        const header: HeaderInfo = {};
        for (const [k, v] of Object.entries(h)) if (v !== undefined) header[k as keyof HeaderInfo] = v;
        return msg(i + 1, header);
      });
      const all = items.map((m) => m.seq);
      assert.deepEqual(parseThreadLists(refs(items)).sort((a, b) => a - b), all);
      assert.deepEqual(parseThreadLists(ordered(items)).sort((a, b) => a - b), all);
    }), { numRuns: 500 });
  });
});
