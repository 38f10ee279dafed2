// Typed IMAP arguments: sequence sets (parse, resolve, filter, format, and a
// format/parse round-trip property), dates, flags, mailbox names, LIST
// patterns (with a property against a reference matcher) and the
// per-command parsers. Tokens come from the real reader.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandReader, type Token } from "../../src/imap/reader.js";
import {
  contains, filter, formatIntervals, formatSequenceSet, intervalsOf, largestNumber, parseSequenceSet, resolve, subtract, toIntervals, type SeqRange,
} from "../../src/imap/sequence.js";
import { dateOf, dateStartMs, formatDate, formatDateTime, parseDate, parseDateTime } from "../../src/imap/datetime.js";
import { astring, modSeqArg, parseFlag, parseFlagList } from "../../src/imap/args.js";
import { canonicalInbox, combineListReference, matchListPattern, normalizeMailboxName, parseMailbox } from "../../src/imap/mailbox-name.js";
import { parseCreate, parseList, parseLsub, parseRename, parseSelect, parseSetQuota, parseStatus } from "../../src/imap/mailbox-args.js";
import { parseAppend, parseCopy, parseStore } from "../../src/imap/message-args.js";
import { parseAuthenticate, parseEnable, parseId, parseLogin } from "../../src/imap/session-args.js";

/** The arguments of one command line (LITERAL+ literals allowed). */
function argsOf(text: string): Token[] {
  const events = new CommandReader().push(Buffer.from(`t X ${text}\r\n`, "utf8"));
  const e = events[0];
  assert.ok(e?.kind === "command", JSON.stringify(events));
  return e.args;
}

const ranges = (text: string): SeqRange[] => {
  const r = parseSequenceSet(text);
  assert.ok(r.ok && r.value.kind === "set", text);
  return r.value.ranges;
};

describe("sequence sets", () => {
  it("parses numbers, ranges, * and $", () => {
    assert.deepEqual(parseSequenceSet("1,3:5,*,7:*"), {
      ok: true,
      value: { kind: "set", ranges: [{ from: 1, to: 1 }, { from: 3, to: 5 }, { from: "*", to: "*" }, { from: 7, to: "*" }] },
    });
    assert.deepEqual(parseSequenceSet("$", { allowSavedResult: true }), { ok: true, value: { kind: "saved" } });
    assert.equal(parseSequenceSet("$").ok, false);
    assert.equal(parseSequenceSet("1:*", { allowStar: false }).ok, false);
    for (const bad of ["", "0", "01", "1:", ":1", "1,,2", "1:2:3", "4294967296", "a", "1,$", "-1", "1 2", "*:"]) {
      assert.equal(parseSequenceSet(bad, { allowSavedResult: true }).ok, false, bad);
    }
    assert.ok(parseSequenceSet("4294967295").ok);
  });

  it("resolves against a maximum: either order, * is the max, beyond max is dropped", () => {
    assert.deepEqual(resolve(ranges("5:3,1,9:*"), 10), [1, 3, 4, 5, 9, 10]);
    assert.deepEqual(resolve(ranges("*"), 0), []);
    assert.deepEqual(resolve(ranges("559:*"), 100), [100]); // RFC 9051 §6.4.8
    assert.deepEqual(resolve(ranges("1:4294967295"), 3), [1, 2, 3]);
    assert.equal(largestNumber(ranges("1:5,*,9")), 9);
  });

  it("merges huge ranges without listing them", () => {
    const iv = toIntervals(ranges("1:4294967295,7,100:200"), 4294967295);
    assert.deepEqual(iv, [[1, 4294967295]]);
    assert.ok(contains(iv, 4000000000));
    const sparse = toIntervals(ranges("10:20,1,3:4,5"), 1000);
    assert.deepEqual(sparse, [[1, 1], [3, 5], [10, 20]]);
    assert.ok(contains(sparse, 4) && !contains(sparse, 2) && !contains(sparse, 21));
  });

  it("filters existing UIDs by a set", () => {
    const uids = [3, 7, 8, 20, 1000, 4000000000];
    assert.deepEqual(filter(uids, ranges("1:4294967295")), uids);
    assert.deepEqual(filter(uids, ranges("5:10,999:*")), [7, 8, 1000, 4000000000]);
    assert.deepEqual(filter(uids, ranges("4000000001:*")), [4000000000]);
    assert.deepEqual(filter([], ranges("*")), []);
  });

  it("formats compactly", () => {
    assert.equal(formatSequenceSet([9, 1, 2, 3, 7, 10, 2]), "1:3,7,9:10");
    assert.equal(formatSequenceSet([]), "");
    assert.equal(formatSequenceSet([5, 6, 7, 1, 2], { keepOrder: true }), "5:7,1:2");
    assert.equal(formatIntervals([[1, 3], [5, 5]]), "1:3,5");
  });

  it("format and parse round-trip (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4294967295 }), { maxLength: 50 }), fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 50 }), (big, small) => {
        const nums = [...big, ...small];
        const text = formatSequenceSet(nums);
        const sorted = [...new Set(nums)].sort((a, b) => a - b);
        if (nums.length === 0) return assert.equal(text, "");
        const parsed = ranges(text);
        assert.deepEqual(filter(sorted, parsed), sorted);
        assert.deepEqual(toIntervals(parsed, 4294967295).flatMap(([lo, hi]) => (hi - lo < 1000 ? Array.from({ length: hi - lo + 1 }, (_, i) => lo + i) : [])).filter((n) => !sorted.includes(n)), []);
        const mini = small.length ? [...new Set(small)].sort((a, b) => a - b) : [];
        assert.deepEqual(resolve(ranges(formatSequenceSet(mini.length ? mini : [1])), 300), mini.length ? mini : [1]);
      }),
      { numRuns: 500 },
    );
  });

  it("intervalsOf and subtract agree with plain sets (VANISHED when expunge records were pruned)", () => {
    assert.deepEqual(intervalsOf([1, 2, 3, 7, 9, 10]), [[1, 3], [7, 7], [9, 10]]);
    assert.deepEqual(subtract([[1, 10]], [1, 4, 5, 10]), [[2, 3], [6, 9]]);
    assert.deepEqual(subtract([[1, 4294967295]], [2], 5), [[1, 1], [3, 5]]);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 60 })), fc.uniqueArray(fc.integer({ min: 1, max: 60 })), fc.integer({ min: 0, max: 60 }), (a, b, max) => {
        const within = intervalsOf([...a].sort((x, y) => x - y));
        const present = [...b].sort((x, y) => x - y);
        const expanded = subtract(within, present, max).flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i));
        assert.deepEqual(expanded, a.filter((n) => n <= max && !b.includes(n)).sort((x, y) => x - y));
      }),
      { numRuns: 500 },
    );
  });
});

describe("dates", () => {
  it("parses date-text, any month case, and refuses impossible dates", () => {
    assert.deepEqual(parseDate("1-Feb-1994"), { ok: true, value: { y: 1994, m: 2, d: 1 } });
    assert.deepEqual(parseDate("29-feb-2024"), { ok: true, value: { y: 2024, m: 2, d: 29 } });
    for (const bad of ["29-Feb-2023", "31-Apr-2020", "0-Jan-2020", "1-Foo-2020", "1-Jan-20", "001-Jan-2020", "1 Jan 2020", ""]) {
      assert.equal(parseDate(bad).ok, false, bad);
    }
    assert.equal(formatDate({ y: 1994, m: 2, d: 1 }), "1-Feb-1994");
  });

  it("parses date-time with its zone", () => {
    const r = parseDateTime("17-Jul-1996 02:44:25 -0700");
    assert.ok(r.ok);
    assert.equal(r.value.date.toISOString(), "1996-07-17T09:44:25.000Z");
    assert.equal(r.value.offsetMinutes, -420);
    const fixed = parseDateTime(" 7-Jul-1996 02:44:25 +0130");
    assert.ok(fixed.ok && fixed.value.date.toISOString() === "1996-07-07T01:14:25.000Z");
    for (const bad of ["17-Jul-1996 24:00:00 +0000", "17-Jul-1996 02:44:25", "17-Jul-1996 02:44:25 0700", "17-Jul-1996 2:44:25 +0000", "17-Jul-1996 02:44:25 +0060", "17-Jul-1996 02:44:25 +2400"]) {
      assert.equal(parseDateTime(bad).ok, false, bad);
    }
  });

  it("formats INTERNALDATE with date-day-fixed and the given zone", () => {
    const d = new Date("1996-07-07T09:44:25Z");
    assert.equal(formatDateTime(d), " 7-Jul-1996 09:44:25 +0000");
    assert.equal(formatDateTime(d, -420), " 7-Jul-1996 02:44:25 -0700");
    assert.equal(formatDateTime(new Date("2024-12-31T23:30:00Z"), 90), "01-Jan-2025 01:00:00 +0130".replace(/^0/, " "));
    const round = parseDateTime(formatDateTime(d, 330));
    assert.ok(round.ok && round.value.date.getTime() === d.getTime() && round.value.offsetMinutes === 330);
  });

  it("converts dates to day starts and back", () => {
    const ms = dateStartMs({ y: 2024, m: 3, d: 10 }, 60);
    assert.equal(new Date(ms).toISOString(), "2024-03-09T23:00:00.000Z");
    assert.deepEqual(dateOf(ms, 60), { y: 2024, m: 3, d: 10 });
  });
});

describe("flags and strings", () => {
  it("canonicalizes system flags and keeps keywords", () => {
    assert.deepEqual(parseFlagList(argsOf("(\\SEEN \\answered $Forwarded \\Seen Junk junk)")[0]), { ok: true, value: ["\\Seen", "\\Answered", "$Forwarded", "Junk"] });
    assert.match((parseFlag(argsOf("\\Recent")[0]) as { error: string }).error, /Recent/);
    assert.equal(parseFlag(argsOf("\\Foo")[0]).ok, false);
    assert.equal(parseFlag(argsOf("a]b")[0]).ok, false);
    assert.equal(parseFlag(argsOf('"quoted"')[0]).ok, false);
    assert.equal(parseFlag(argsOf("x".repeat(251))[0]).ok, false);
  });

  it("reads astrings as UTF-8 and refuses wildcards in atoms", () => {
    assert.deepEqual(astring(argsOf('"Grüße"')[0], "x"), { ok: true, value: "Grüße" });
    assert.deepEqual(astring(argsOf("a]b")[0], "x"), { ok: true, value: "a]b" });
    assert.equal(astring(argsOf("a*")[0], "x").ok, false);
    assert.equal(astring({ t: "string", v: Buffer.from([0xff]), literal: false }, "x").ok, false);
    assert.deepEqual(astring(argsOf("nil")[0], "x"), { ok: true, value: "nil" });
  });

  it("clamps mod-sequences above 2^53 and refuses above 2^63-1", () => {
    assert.deepEqual(modSeqArg(argsOf("9223372036854775807")[0], "m"), { ok: true, value: Number.MAX_SAFE_INTEGER });
    assert.equal(modSeqArg(argsOf("9223372036854775808")[0], "m").ok, false);
    assert.equal(modSeqArg(argsOf("0")[0], "m").ok, false);
    assert.deepEqual(modSeqArg(argsOf("0")[0], "m", { zero: true }), { ok: true, value: 0 });
  });
});

describe("mailbox names", () => {
  it("decodes modified UTF-7 unless UTF8=ACCEPT is enabled", () => {
    assert.deepEqual(normalizeMailboxName("Entw&APw-rfe", false), { ok: true, value: "Entwürfe" });
    assert.deepEqual(normalizeMailboxName("Entw&APw-rfe", true), { ok: true, value: "Entw&APw-rfe" });
    assert.deepEqual(normalizeMailboxName(Buffer.from("Entwürfe"), true), { ok: true, value: "Entwürfe" });
    assert.equal(normalizeMailboxName(Buffer.from("Entwürfe"), false).ok, false);
    assert.equal(normalizeMailboxName("Tom & Jerry", false).ok, false);
    assert.deepEqual(normalizeMailboxName("Tom &- Jerry", false), { ok: true, value: "Tom & Jerry" });
    assert.equal(normalizeMailboxName(Buffer.from([0xc3]), true).ok, false);
  });

  it("makes INBOX case-insensitive, also as a parent", () => {
    assert.deepEqual(normalizeMailboxName("inbox", false), { ok: true, value: "INBOX" });
    assert.deepEqual(normalizeMailboxName("Inbox/Sub", false), { ok: true, value: "INBOX/Sub" });
    assert.deepEqual(normalizeMailboxName("Inboxes", false), { ok: true, value: "Inboxes" });
    assert.equal(canonicalInbox("inbox.x", "."), "INBOX.x");
  });

  it("refuses bad names with code CANNOT", () => {
    for (const bad of ["", "/a", "a/", "a//b", "a/./b", "..", "a%", "b*", "x\u0001", "&AAE-", "&AJ8-", "a".repeat(256), "a/".repeat(32) + "a", Array(6).fill("n".repeat(200)).join("/")]) {
      const r = normalizeMailboxName(bad, false);
      assert.ok(!r.ok && r.code === "CANNOT", JSON.stringify(bad));
    }
    assert.ok(normalizeMailboxName("a/".repeat(31) + "a", false).ok);
  });

  it("parses a mailbox token", () => {
    assert.deepEqual(parseMailbox(argsOf("[Gmail]/Sent")[0], false), { ok: true, value: "[Gmail]/Sent" });
    assert.deepEqual(parseMailbox(argsOf("{5+}\r\ninbox")[0], false), { ok: true, value: "INBOX" });
    assert.equal(parseMailbox(argsOf("(x)")[0], false).ok, false);
  });
});

describe("LIST patterns", () => {
  it("matches * across levels and % within one", () => {
    const names = ["INBOX", "INBOX/Sub", "Archive", "Archive/2024", "Archive/2024/Q1", "Sent"];
    const m = (p: string) => names.filter((n) => matchListPattern(p, n));
    assert.deepEqual(m("*"), names);
    assert.deepEqual(m("%"), ["INBOX", "Archive", "Sent"]);
    assert.deepEqual(m("Archive/%"), ["Archive/2024"]);
    assert.deepEqual(m("Archive*"), ["Archive", "Archive/2024", "Archive/2024/Q1"]);
    assert.deepEqual(m("inbox"), ["INBOX"]);
    assert.deepEqual(m("inbox/%"), ["INBOX/Sub"]);
    assert.deepEqual(m("sent"), []);
    assert.deepEqual(m("%/%/%"), ["Archive/2024/Q1"]);
    assert.deepEqual(m(""), []);
    assert.ok(matchListPattern("a.%", "a.b", "."));
    assert.ok(!matchListPattern("a.%", "a.b.c", "."));
  });

  it("takes no exponential time on hostile patterns", () => {
    const start = Date.now();
    assert.equal(matchListPattern("*a".repeat(30) + "*b", "a".repeat(200)), false);
    assert.equal(matchListPattern("%a".repeat(30) + "%b", "a".repeat(200)), false);
    assert.ok(Date.now() - start < 500);
  });

  it("agrees with a reference matcher (property)", () => {
    const ref = (p: string, n: string): boolean => {
      if (p === "") return n === "";
      if (p[0] === "*") return [...Array(n.length + 1).keys()].some((k) => ref(p.slice(1), n.slice(k)));
      if (p[0] === "%") {
        for (let k = 0; k <= n.length; k++) {
          if (ref(p.slice(1), n.slice(k))) return true;
          if (n[k] === "/") break;
        }
        return false;
      }
      return n !== "" && p[0] === n[0] && ref(p.slice(1), n.slice(1));
    };
    const alpha = fc.array(fc.constantFrom("a", "b", "/", "*", "%"), { maxLength: 8 }).map((a) => a.join(""));
    const nameAlpha = fc.array(fc.constantFrom("a", "b", "/"), { maxLength: 8 }).map((a) => a.join(""));
    fc.assert(fc.property(alpha, nameAlpha, (p, n) => assert.equal(matchListPattern(p, n), ref(p, n), `${p} ~ ${n}`)), { numRuns: 5000 });
  });

  it("combines reference and pattern", () => {
    assert.equal(combineListReference("", "%"), "%");
    assert.equal(combineListReference("Archive/", "%"), "Archive/%");
    assert.equal(combineListReference("Archive/", "/x"), "/x");
  });
});

describe("command argument parsers", () => {
  it("LIST basic and extended", () => {
    assert.deepEqual(parseList(argsOf('"" *'), false), {
      ok: true,
      value: { reference: "", patterns: ["*"], extended: false, select: { subscribed: false, remote: false, recursiveMatch: false, specialUse: false }, return: { subscribed: false, children: false, specialUse: false } },
    });
    const ext = parseList(argsOf('(SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Entw&APw-rfe/%") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))'), false);
    assert.ok(ext.ok);
    assert.deepEqual(ext.value.patterns, ["INBOX", "Entwürfe/%"]);
    assert.deepEqual(ext.value.select, { subscribed: true, remote: false, recursiveMatch: true, specialUse: false });
    assert.deepEqual(ext.value.return, { subscribed: false, children: true, specialUse: true, status: ["MESSAGES", "UNSEEN"] });
    assert.ok(ext.value.extended);
    assert.equal(parseList(argsOf('(RECURSIVEMATCH) "" *'), false).ok, false);
    assert.equal(parseList(argsOf('(FOO) "" *'), false).ok, false);
    assert.equal(parseList(argsOf('"" * RETURN (BAR)'), false).ok, false);
    assert.equal(parseList(argsOf('"" * EXTRA (x)'), false).ok, false);
    assert.equal(parseList(argsOf('""'), false).ok, false);
    assert.deepEqual(parseLsub(argsOf('"Archive/" %'), false), { ok: true, value: { reference: "Archive/", pattern: "%" } });
  });

  it("STATUS", () => {
    assert.deepEqual(parseStatus(argsOf("inbox (messages UIDNEXT SIZE HIGHESTMODSEQ messages)"), false), { ok: true, value: { mailbox: "INBOX", items: ["MESSAGES", "UIDNEXT", "SIZE", "HIGHESTMODSEQ"] } });
    assert.equal(parseStatus(argsOf("INBOX ()"), false).ok, false);
    assert.equal(parseStatus(argsOf("INBOX (FOO)"), false).ok, false);
    assert.equal(parseStatus(argsOf("INBOX MESSAGES"), false).ok, false);
  });

  it("STORE with a flag list, bare flags and UNCHANGEDSINCE", () => {
    const r = parseStore(argsOf("1:3 (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Deleted)"));
    assert.deepEqual(r, { ok: true, value: { set: { kind: "set", ranges: [{ from: 1, to: 3 }] }, op: "add", silent: true, flags: ["\\Deleted"], unchangedSince: 12345 } });
    const bare = parseStore(argsOf("$ -flags \\Seen $Junk"));
    assert.ok(bare.ok && bare.value.op === "remove" && !bare.value.silent && bare.value.set.kind === "saved");
    assert.deepEqual(bare.value.flags, ["\\Seen", "$Junk"]);
    const clear = parseStore(argsOf("1 FLAGS ()"));
    assert.ok(clear.ok && clear.value.op === "set" && clear.value.flags.length === 0);
    for (const bad of ["1 FLAGS", "1 XFLAGS (\\Seen)", "1 (FOO 1) FLAGS ()", "x FLAGS ()", "1 FLAGS (\\Recent)"]) assert.equal(parseStore(argsOf(bad)).ok, false, bad);
  });

  it("APPEND, MULTIAPPEND, literal8 and UTF8", () => {
    const r = parseAppend(argsOf('Drafts (\\Draft \\seen) "17-Jul-1996 02:44:25 -0700" {5+}\r\nhello {3+}\r\nbye ~{2+}\r\nx\0 UTF8 (~{1+}\r\nu)'), false);
    assert.ok(r.ok);
    assert.equal(r.value.mailbox, "Drafts");
    const [m1, m2, m3, m4] = r.value.messages;
    assert.deepEqual(m1?.flags, ["\\Draft", "\\Seen"]);
    assert.equal(m1?.date?.date.toISOString(), "1996-07-17T09:44:25.000Z");
    assert.equal(m1?.data.toString(), "hello");
    assert.deepEqual([m2?.flags, m2?.date, m2?.data.toString()], [[], undefined, "bye"]);
    assert.ok(m3?.binary && !m3.utf8 && m3.data.length === 2);
    assert.ok(m4?.utf8 && m4.data.toString() === "u");
    assert.equal(parseAppend(argsOf('INBOX "hello"'), false).ok, false);
    assert.equal(parseAppend(argsOf("INBOX"), false).ok, false);
    assert.equal(parseAppend(argsOf('INBOX "1-Jan-2020 00:00:00 +0000"'), false).ok, false);
    assert.equal(parseAppend(argsOf('INBOX "bad date" {1+}\r\nx'), false).ok, false);
    assert.equal(parseAppend(argsOf("INBOX {1+}\r\nx {1+}\r\ny"), false, { maxMessages: 1 }).ok, false);
  });

  it("CREATE with USE and a trailing delimiter", () => {
    assert.deepEqual(parseCreate(argsOf("Archive/"), false), { ok: true, value: { mailbox: "Archive", use: [] } });
    assert.deepEqual(parseCreate(argsOf("Spam (USE (\\junk \\Junk))"), false), { ok: true, value: { mailbox: "Spam", use: ["\\Junk"] } });
    const bad = parseCreate(argsOf("X (USE (\\Bogus))"), false);
    assert.ok(!bad.ok && bad.code === "USEATTR");
    assert.equal(parseCreate(argsOf("X (FOO (\\Junk))"), false).ok, false);
    assert.equal(parseCreate(argsOf("/"), false).ok, false);
  });

  it("SELECT with CONDSTORE and QRESYNC", () => {
    assert.deepEqual(parseSelect(argsOf("INBOX"), false), { ok: true, value: { mailbox: "INBOX", condstore: false } });
    assert.deepEqual(parseSelect(argsOf("INBOX (CONDSTORE)"), false), { ok: true, value: { mailbox: "INBOX", condstore: true } });
    const q = parseSelect(argsOf("INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1,3:5 41,43:45)))"), false);
    assert.ok(q.ok && q.value.qresync);
    assert.equal(q.value.qresync.uidValidity, 67890007);
    assert.equal(q.value.qresync.modSeq, Number.MAX_SAFE_INTEGER); // 20050715194045000 > 2^53-1: clamped
    assert.equal(q.value.qresync.knownUids?.kind, "set");
    assert.ok(q.value.qresync.seqMatch);
    const noKnown = parseSelect(argsOf("INBOX (QRESYNC (1 2 (1 3)))"), false);
    assert.ok(noKnown.ok && !noKnown.value.qresync?.knownUids && noKnown.value.qresync?.seqMatch);
    for (const bad of ["INBOX (QRESYNC (0 1))", "INBOX (QRESYNC (1 0))", "INBOX (QRESYNC (1 1 1:*))", "INBOX (QRESYNC (1 1 1 (1)))", "INBOX (FOO)", "INBOX (QRESYNC)"]) {
      assert.equal(parseSelect(argsOf(bad), false).ok, false, bad);
    }
  });

  it("ENABLE, ID, LOGIN, AUTHENTICATE", () => {
    assert.deepEqual(parseEnable(argsOf("condstore utf8=accept")), { ok: true, value: ["CONDSTORE", "UTF8=ACCEPT"] });
    assert.equal(parseEnable([]).ok, false);
    assert.deepEqual(parseId(argsOf("NIL")), { ok: true, value: null });
    assert.deepEqual(parseId(argsOf('("name" "Thunderbird" "version" NIL)')), { ok: true, value: [["name", "Thunderbird"], ["version", null]] });
    assert.equal(parseId(argsOf('("name")')).ok, false);
    assert.equal(parseId(argsOf('("a" "1" "A" "2")')).ok, false);
    assert.equal(parseId(argsOf(`("${"f".repeat(31)}" "x")`)).ok, false);
    assert.equal(parseId(argsOf(`("f" "${"v".repeat(1025)}")`)).ok, false);
    assert.equal(parseId(argsOf(`(${'"k" "v" '.repeat(31).replace(/"k"/g, () => `"k${Math.random()}"`)})`)).ok, false);
    assert.deepEqual(parseLogin(argsOf('alice "pa ss"')), { ok: true, value: { user: "alice", password: "pa ss" } });
    assert.equal(parseLogin(argsOf("alice")).ok, false);
    assert.deepEqual(parseAuthenticate(argsOf("plain dGVzdA==")), { ok: true, value: { mechanism: "PLAIN", initialResponse: "dGVzdA==" } });
    assert.deepEqual(parseAuthenticate(argsOf("PLAIN =")), { ok: true, value: { mechanism: "PLAIN", initialResponse: "=" } });
    assert.equal(parseAuthenticate(argsOf("PLAIN ***")).ok, false);
  });

  it("COPY/MOVE, RENAME, SETQUOTA", () => {
    assert.deepEqual(parseCopy(argsOf("2:4 Archive"), false), { ok: true, value: { set: { kind: "set", ranges: [{ from: 2, to: 4 }] }, mailbox: "Archive" } });
    assert.deepEqual(parseRename(argsOf("a b"), false), { ok: true, value: { from: "a", to: "b" } });
    assert.deepEqual(parseSetQuota(argsOf('"" (storage 512 MESSAGE 1000)')), { ok: true, value: { root: "", limits: [["STORAGE", 512], ["MESSAGE", 1000]] } });
    assert.equal(parseSetQuota(argsOf('"" (STORAGE)')).ok, false);
  });
});

describe("command argument parsers: properties", () => {
  it("never throw on random token lists", () => {
    const tok: fc.Memo<Token> = fc.memo((depth) =>
      fc.oneof(
        { depthSize: "small" },
        fc.constantFrom("INBOX", "RETURN", "STATUS", "USE", "\\Junk", "\\Seen", "QRESYNC", "CONDSTORE", "UNCHANGEDSINCE", "+FLAGS", "FLAGS.SILENT", "UTF8", "1:*", "$", "0", "1", "x%", "*").map((v): Token => ({ t: "atom", v })),
        fc.string({ maxLength: 6 }).map((v): Token => ({ t: "atom", v })),
        fc.tuple(fc.uint8Array({ maxLength: 6 }), fc.boolean(), fc.boolean()).map(([u, literal, binary]): Token => ({ t: "string", v: Buffer.from(u), literal, ...(binary ? { binary } : {}) })),
        fc.constant<Token>({ t: "nil", v: "nil" }),
        depth > 1 ? fc.array(tok(depth - 1), { maxLength: 4 }).map((v): Token => ({ t: "list", v })) : fc.constant<Token>({ t: "list", v: [] }),
      ),
    );
    fc.assert(
      fc.property(fc.array(tok(4), { maxLength: 7 }), fc.boolean(), (args, utf8) => {
        const results = [
          parseList(args, utf8), parseLsub(args, utf8), parseStatus(args, utf8), parseStore(args), parseAppend(args, utf8), parseCreate(args, utf8),
          parseSelect(args, utf8), parseEnable(args), parseId(args), parseLogin(args), parseAuthenticate(args), parseCopy(args, utf8),
          parseRename(args, utf8), parseSetQuota(args),
        ];
        for (const r of results) if (!r.ok) assert.ok(r.error.length > 0);
      }),
      { numRuns: 3000 },
    );
  });
});
