// IMAP command reader: tokens, literals (sync, LITERAL+, LITERAL-, literal8),
// BODY[...] atoms, limits and their error classes, pause points (IDLE,
// AUTHENTICATE, STARTTLS), skipping refused non-synchronizing literals, and
// properties: random bytes never throw or over-buffer; any chunking of a
// command stream gives the same commands as one chunk.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandReader, type ReaderEvent, type ReaderOptions, type Token } from "../../src/imap/reader.js";

const b = (s: string) => Buffer.from(s, "latin1");

/** Feeds chunks like a session that accepts every literal and resumes after pausing commands. */
function drive(reader: CommandReader, chunks: Buffer[], onContinue: "accept" | "reject" = "accept"): ReaderEvent[] {
  const events: ReaderEvent[] = [];
  const handle = (list: ReaderEvent[]) => {
    for (const e of list) {
      events.push(e);
      if (e.kind === "continue") handle(onContinue === "accept" ? reader.acceptLiteral() : reader.rejectLiteral());
      else if ((e.kind === "command" || e.kind === "line") && reader.paused) handle(reader.resume());
    }
  };
  for (const c of chunks) handle(reader.push(c));
  return events;
}

const run = (input: string | Buffer, options?: ReaderOptions) => drive(new CommandReader(options), [typeof input === "string" ? b(input) : input]);

/** Tokens with strings shown as text, for compact expectations. */
function show(tokens: Token[]): unknown[] {
  return tokens.map((t) => {
    switch (t.t) {
      case "atom":
        return t.v;
      case "nil":
        return null;
      case "list":
        return show(t.v);
      case "string":
        return { s: t.v.toString("latin1"), ...(t.literal ? { lit: true } : {}), ...(t.binary ? { bin: true } : {}) };
    }
  });
}

function commands(events: ReaderEvent[]) {
  return events.filter((e) => e.kind === "command").map((e) => (e.kind === "command" ? { tag: e.tag, name: e.name, args: show(e.args) } : null));
}

function errors(events: ReaderEvent[]) {
  return events.filter((e) => e.kind === "error");
}

describe("CommandReader: lines and tokens", () => {
  it("reads a simple command with CRLF or a bare LF", () => {
    assert.deepEqual(commands(run("a1 NOOP\r\nA2 capability\n")), [
      { tag: "a1", name: "NOOP", args: [] },
      { tag: "A2", name: "CAPABILITY", args: [] },
    ]);
  });

  it("tokenizes atoms, quoted strings with escapes, NIL and nested lists", () => {
    const [cmd] = commands(run('t ID ("name" "my \\"client\\"" "path" "C:\\\\x" "os" NIL) (a (b (c)))\r\n'));
    assert.deepEqual(cmd, {
      tag: "t",
      name: "ID",
      args: [[{ s: "name" }, { s: 'my "client"' }, { s: "path" }, { s: "C:\\x" }, { s: "os" }, null], ["a", ["b", ["c"]]]],
    });
  });

  it("keeps NIL's spelling and flags, wildcards and resp-specials in atoms", () => {
    const [e] = run("t STORE 1:*,5 +FLAGS (\\Seen $Label1) nil [Gmail]/Sent %x*\r\n");
    assert.ok(e?.kind === "command");
    assert.deepEqual(show(e.args), ["1:*,5", "+FLAGS", ["\\Seen", "$Label1"], null, "[Gmail]/Sent", "%x*"]);
    assert.deepEqual(e.args[3], { t: "nil", v: "nil" });
  });

  it("names UID commands by both words", () => {
    assert.deepEqual(commands(run("t uid fetch 1:* (FLAGS)\r\n")), [{ tag: "t", name: "UID FETCH", args: ["1:*", ["FLAGS"]] }]);
  });

  it("accepts 8-bit UTF-8 inside quoted strings", () => {
    const [e] = run(Buffer.concat([b('t SELECT "'), Buffer.from("Entwürfe"), b('"\r\n')]));
    assert.ok(e?.kind === "command" && e.args[0]?.t === "string");
    assert.equal(e.args[0].v.toString("utf8"), "Entwürfe");
  });

  it("ignores empty lines between commands and reports the command size", () => {
    const events = run("\r\n\r\nt NOOP\r\n");
    assert.equal(events.length, 1);
    assert.ok(events[0]?.kind === "command");
    assert.equal(events[0].size, 8);
  });
});

describe("CommandReader: BODY[...] atoms", () => {
  it("makes one atom with a section of BODY.PEEK[HEADER.FIELDS (...)]<partial>", () => {
    const [e] = run("t FETCH 1 (UID body.peek[HEADER.FIELDS (From To)]<0.100> BODY[] BINARY.SIZE[1.2] BODY)\r\n");
    assert.ok(e?.kind === "command");
    const list = e.args[1];
    assert.ok(list?.t === "list");
    const [uid, peek, whole, size, body] = list.v;
    assert.deepEqual(uid, { t: "atom", v: "UID" });
    assert.ok(peek?.t === "atom" && peek.section);
    assert.equal(peek.v, "body.peek[HEADER.FIELDS (From To)]<0.100>");
    assert.equal(peek.section.prefix, "body.peek");
    assert.equal(peek.section.suffix, "<0.100>");
    assert.deepEqual(show(peek.section.inner), ["HEADER.FIELDS", ["From", "To"]]);
    assert.ok(whole?.t === "atom" && whole.section && whole.section.inner.length === 0 && whole.v === "BODY[]");
    assert.ok(size?.t === "atom" && size.section && size.v === "BINARY.SIZE[1.2]");
    assert.deepEqual(body, { t: "atom", v: "BODY" });
  });

  it("allows quoted strings and literals inside the brackets", () => {
    const [e] = run('t FETCH 1 BODY[HEADER.FIELDS ("X-Odd" {4+}\r\nDate)]\r\n');
    assert.ok(e?.kind === "command");
    const att = e.args[1];
    assert.ok(att?.t === "atom" && att.section);
    assert.deepEqual(show(att.section.inner), ["HEADER.FIELDS", [{ s: "X-Odd" }, { s: "Date", lit: true }]]);
    assert.equal(att.v, 'BODY[HEADER.FIELDS ("X-Odd" "Date")]');
  });

  it("reports unbalanced brackets", () => {
    assert.match(errors(run("t FETCH 1 BODY[HEADER\r\n"))[0]!.message, /Missing \]/);
    assert.match(errors(run("t FETCH 1 BODY[HEADER.FIELDS (A]\r\n"))[0]!.message, /Unbalanced/);
  });
});

describe("CommandReader: literals", () => {
  it("asks for a continuation for {n} and reads the literal after acceptLiteral()", () => {
    const r = new CommandReader();
    const first = r.push(b("a LOGIN {5}\r\n"));
    assert.deepEqual(first, [{ kind: "continue", tag: "a", name: "LOGIN", args: [], size: 5, binary: false }]);
    assert.ok(r.paused);
    assert.deepEqual(r.acceptLiteral(), []);
    assert.deepEqual(r.push(b("alice {6}\r\n")), [{ kind: "continue", tag: "a", name: "LOGIN", args: [{ t: "string", v: b("alice"), literal: true }], size: 6, binary: false }]);
    r.acceptLiteral();
    const [e] = r.push(b("se")).concat(r.push(b("cret\r\n")));
    assert.ok(e?.kind === "command");
    assert.deepEqual(show(e.args), [{ s: "alice", lit: true }, { s: "secret", lit: true }]);
    assert.equal(e.size, "a LOGIN {5}\r\nalice {6}\r\nsecret\r\n".length);
  });

  it("holds input that arrives before the session decides, and hands it over on accept", () => {
    const r = new CommandReader();
    assert.equal(r.push(b("a LOGIN {5}\r\nalice x\r\n")).length, 1);
    assert.deepEqual(commands(r.acceptLiteral()), [{ tag: "a", name: "LOGIN", args: [{ s: "alice", lit: true }, "x"] }]);
  });

  it("drops the command after rejectLiteral() and reads the next line fresh", () => {
    const r = new CommandReader();
    r.push(b("a APPEND Drafts {500}\r\n"));
    assert.deepEqual(r.rejectLiteral(), []);
    assert.deepEqual(commands(r.push(b("b NOOP\r\n"))), [{ tag: "b", name: "NOOP", args: [] }]);
  });

  it("reads LITERAL+ literals without asking, in any chunking", () => {
    const text = "a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\nb NOOP\r\n";
    const expected = [{ tag: "a", name: "LOGIN", args: [{ s: "alice", lit: true }, { s: "secret", lit: true }] }, { tag: "b", name: "NOOP", args: [] }];
    assert.deepEqual(commands(run(text)), expected);
    assert.deepEqual(commands(drive(new CommandReader(), [...text].map(b))), expected);
  });

  it("reads literal8 with NUL octets and refuses NUL in a plain literal", () => {
    const [e] = run(b("a APPEND INBOX ~{3+}\r\nx\0y\r\n"));
    assert.ok(e?.kind === "command" && e.args[1]?.t === "string");
    assert.equal(e.args[1].binary, true);
    assert.deepEqual([...e.args[1].v], [0x78, 0, 0x79]);
    const events = run(b("a APPEND INBOX {3+}\r\nx\0y (more) {2+}\r\nzz\r\nb NOOP\r\n"));
    assert.equal(errors(events)[0]?.tag, "a");
    assert.match(errors(events)[0]!.message, /NUL/);
    assert.deepEqual(commands(events), [{ tag: "b", name: "NOOP", args: [] }]);
  });

  it("reads a zero-length literal", () => {
    assert.deepEqual(commands(run("a LOGIN {0+}\r\n {0}\r\n\r\n")), [{ tag: "a", name: "LOGIN", args: [{ s: "", lit: true }, { s: "", lit: true }] }]);
  });

  it("needs a separator after a literal", () => {
    const events = run("a LOGIN {1+}\r\nx\"y\"\r\nb NOOP\r\n");
    assert.match(errors(events)[0]!.message, /space/);
    assert.equal(commands(events).length, 1);
  });

  it("refuses a synchronizing literal over the command limit without closing", () => {
    const events = run("a LOGIN {70000}\r\nb NOOP\r\n");
    const [err] = errors(events);
    assert.deepEqual({ ...err, message: "" }, { kind: "error", tag: "a", reply: "BAD", code: "TOOBIG", message: "", fatal: false });
    assert.deepEqual(commands(events), [{ tag: "b", name: "NOOP", args: [] }]);
  });

  it("answers NO [TOOBIG] for an APPEND message over maxLiteralSize", () => {
    const events = run("a APPEND INBOX (\\Seen) {2000}\r\n", { maxLiteralSize: 1000 });
    assert.equal(events.length, 1);
    assert.deepEqual({ ...events[0], message: "" }, { kind: "error", tag: "a", reply: "NO", code: "TOOBIG", message: "", fatal: false });
  });

  it("lets APPEND message literals exceed maxCommandSize but not the mailbox name", () => {
    const msg = "x".repeat(5000);
    const ok = run(`a APPEND INBOX {5000+}\r\n${msg}\r\n`, { maxCommandSize: 1024, maxLiteralSize: 10_000 });
    assert.equal(commands(ok).length, 1);
    const bad = run("a APPEND {5000}\r\n", { maxCommandSize: 1024, maxLiteralSize: 10_000 });
    assert.equal(errors(bad)[0]?.reply, "BAD");
  });

  it("limits the total of a MULTIAPPEND", () => {
    const events = run(`a APPEND INBOX {600+}\r\n${"x".repeat(600)} {600+}\r\n${"y".repeat(600)}\r\nb NOOP\r\n`, { maxLiteralSize: 1000, maxAppendSize: 1000 });
    assert.equal(errors(events)[0]?.code, "TOOBIG");
    assert.deepEqual(commands(events), [{ tag: "b", name: "NOOP", args: [] }]);
  });

  it("skips a refused non-synchronizing literal without buffering it", () => {
    const r = new CommandReader({ maxCommandSize: 100 });
    const events = drive(r, [b("a LOGIN {5000+}\r\n")]);
    assert.equal(errors(events)[0]?.code, "TOOBIG");
    let more: ReaderEvent[] = [];
    for (let i = 0; i < 50; i++) {
      more = more.concat(drive(r, [b("b NOOP\r\n".repeat(12) + "xxxx")]));
      assert.ok(r.bufferedBytes === 0);
    }
    assert.deepEqual(more, []);
    assert.deepEqual(commands(drive(r, [b(" more\r\nc NOOP\r\n")])), [{ tag: "c", name: "NOOP", args: [] }]);
  });

  it("closes when a refused non-synchronizing literal is too large to skip", () => {
    const events = run("a LOGIN {999999999999+}\r\n");
    assert.equal(events.length, 2);
    assert.equal(events[1]?.kind === "error" && events[1].fatal, true);
  });

  it("enforces LITERAL- (non-synchronizing literals up to 4096 octets)", () => {
    const ok = run(`a SEARCH TEXT {4096+}\r\n${"x".repeat(4096)}\r\n`, { literalMinus: true });
    assert.equal(commands(ok).length, 1);
    const big = run(`a APPEND INBOX {4097+}\r\n${"x".repeat(4097)}\r\nb NOOP\r\n`, { literalMinus: true });
    assert.match(errors(big)[0]!.message, /LITERAL-/);
    assert.deepEqual(commands(big), [{ tag: "b", name: "NOOP", args: [] }]);
  });

  it("after a syntax error, skips the non-synchronizing literal the bad line announced", () => {
    const events = run("a FOO ) {8+}\r\nb DELETE\r\nc NOOP\r\n");
    assert.equal(errors(events)[0]?.tag, "a");
    assert.deepEqual(commands(events), [{ tag: "c", name: "NOOP", args: [] }]);
  });
});

describe("CommandReader: syntax errors", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["+a NOOP\r\n", "*", /tag/],
    ["a*b NOOP\r\n", "*", /tag/],
    ["a\r\n", "a", /Missing command/],
    ["a  NOOP\r\n", "a", /Missing command/],
    ["a NO(OP\r\n", "a", /command name/],
    ["a UID\r\n", "a", /UID/],
    ['a LOGIN "x\r\n', "a", /Unterminated/],
    ['a LOGIN "x\\y"\r\n', "a", /escape/],
    ['a LOGIN "x"y\r\n', "a", /space/],
    ["a LOGIN (x\r\n", "a", /Missing \)/],
    ["a LOGIN x)\r\n", "a", /Unexpected \)/],
    ["a LOGIN )\r\n", "a", /Unexpected \)/],
    ["a LOGIN {5\r\n", "a", /literal/],
    ["a LOGIN {5} x\r\n", "a", /literal/],
    ["a LOGIN fo{5}\r\n", "a", /space/],
    ["a LOGIN x\x01\r\n", "a", /Control/],
    ["a LOGIN x\ry\r\n", "a", /Control/],
  ];
  for (const [input, tag, message] of cases) {
    it(`refuses ${JSON.stringify(input)} and reads on`, () => {
      const events = run(input + "z NOOP\r\n");
      const [err] = errors(events);
      assert.ok(err, "an error event");
      assert.equal(err.tag, tag);
      assert.equal(err.fatal, false);
      assert.equal(err.reply, "BAD");
      assert.match(err.message, message);
      assert.deepEqual(commands(events), [{ tag: "z", name: "NOOP", args: [] }]);
    });
  }

  it("refuses 8-bit octets outside strings", () => {
    assert.match(errors(run(Buffer.concat([b("a SELECT "), Buffer.from("é"), b("\r\n")])))[0]!.message, /8-bit/);
  });

  it("limits nesting and token count", () => {
    assert.match(errors(run(`a X ${"(".repeat(40)}${")".repeat(40)}\r\n`))[0]!.message, /nested/);
    assert.equal(commands(run(`a X ${"(".repeat(32)}${")".repeat(32)}\r\n`)).length, 1);
    assert.match(errors(run(`a X ${"x ".repeat(20)}\r\n`, { maxTokens: 10 }))[0]!.message, /Too many/);
  });

  it("closes on a line over maxLineLength and ignores everything after", () => {
    const r = new CommandReader({ maxLineLength: 100 });
    const events = r.push(b("a " + "x".repeat(200)));
    assert.equal(events.length, 1);
    assert.deepEqual({ ...events[0], message: "" }, { kind: "error", tag: "*", reply: "BYE", message: "", fatal: true });
    assert.ok(r.closed);
    assert.deepEqual(r.push(b("\r\nb NOOP\r\n")), []);
    assert.equal(r.bufferedBytes, 0);
  });

  it("counts command text across literals against maxLineLength", () => {
    const events = run(`a X ${"y".repeat(60)} {1+}\r\nz ${"y".repeat(60)}\r\n`, { maxLineLength: 100 });
    assert.ok(events.some((e) => e.kind === "error" && e.fatal));
  });
});

describe("CommandReader: IDLE, AUTHENTICATE, STARTTLS", () => {
  it("pauses after IDLE and finds DONE", () => {
    const r = new CommandReader();
    const events = r.push(b("a IDLE\r\nDONE\r\nb NOOP\r\n"));
    assert.deepEqual(commands(events), [{ tag: "a", name: "IDLE", args: [] }]);
    assert.ok(r.paused);
    assert.deepEqual(r.expectDone().map((e) => e.kind), ["done", "command"]);
  });

  it("answers BAD for the IDLE tag when the line is not DONE", () => {
    const r = new CommandReader();
    r.push(b("a IDLE\r\n"));
    r.expectDone();
    assert.deepEqual(r.push(b("b NOOP\r\n")), [{ kind: "error", tag: "a", reply: "BAD", message: "Expected DONE", fatal: false }]);
    assert.equal(commands(r.push(b("c NOOP\r\n"))).length, 1);
  });

  it("hands AUTHENTICATE continuation lines over one at a time", () => {
    const r = new CommandReader();
    assert.deepEqual(commands(r.push(b("a AUTHENTICATE PLAIN\r\ndGVzdA==\r\n*\r\nb NOOP\r\n"))), [{ tag: "a", name: "AUTHENTICATE", args: ["PLAIN"] }]);
    assert.deepEqual(r.expectLine(), [{ kind: "line", line: "dGVzdA==" }]);
    assert.deepEqual(r.expectLine(), [{ kind: "line", line: "*" }]);
    assert.deepEqual(commands(r.resume()), [{ tag: "b", name: "NOOP", args: [] }]);
  });

  it("drops input pipelined behind STARTTLS on reset()", () => {
    const r = new CommandReader();
    assert.equal(commands(r.push(b("a STARTTLS\r\nb LOGIN evil x\r\n"))).length, 1);
    assert.deepEqual(r.reset(), []);
    assert.deepEqual(commands(r.push(b("c NOOP\r\n"))), [{ tag: "c", name: "NOOP", args: [] }]);
  });

  it("resume(id) of an earlier command does not lift the pause of a later STARTTLS", () => {
    const r = new CommandReader();
    const events = r.push(b("x NOOP\r\nx STARTTLS\r\nx LOGIN evil x\r\n"));
    assert.deepEqual(events.map((e) => (e.kind === "command" ? [e.id, e.name] : e.kind)), [[1, "NOOP"], [2, "STARTTLS"]]);
    assert.deepEqual(r.resume(1), []);
    assert.ok(r.paused);
    r.reset();
    assert.deepEqual(commands(r.push(b("y NOOP\r\n"))), [{ tag: "y", name: "NOOP", args: [] }]);
    const again = new CommandReader();
    again.push(b("a STARTTLS\r\nb NOOP\r\n"));
    assert.deepEqual(commands(again.resume(1)), [{ tag: "b", name: "NOOP", args: [] }]); // STARTTLS refused: read on
  });

  it("closes when a paused reader is flooded", () => {
    const r = new CommandReader({ maxLineLength: 1000 });
    r.push(b("a IDLE\r\n"));
    const events = r.push(b("x".repeat(2000)));
    assert.equal(events[0]?.kind === "error" && events[0].fatal, true);
  });
});

describe("CommandReader: performance", () => {
  it("scans an atom full of [ in linear time", () => {
    const start = Date.now();
    const events = run(`a X ${"[".repeat(60_000)}\r\n`);
    assert.equal(commands(events).length, 1);
    assert.ok(Date.now() - start < 500);
  });

  it("reads a long line sent one octet at a time in linear time", () => {
    const r = new CommandReader();
    const line = b(`a SEARCH ${"1,".repeat(30_000)}1\r\n`);
    const start = process.hrtime.bigint();
    let events: ReaderEvent[] = [];
    for (let i = 0; i < line.length; i++) events = events.concat(r.push(line.subarray(i, i + 1)));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(commands(events).length, 1);
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  it("copies a large literal once into one buffer", () => {
    const r = new CommandReader();
    r.push(b("a APPEND INBOX {1000000+}\r\n"));
    for (let i = 0; i < 1000; i++) {
      r.push(Buffer.alloc(1000, 0x61));
      assert.ok(r.bufferedBytes <= 1_000_000);
    }
    const [e] = r.push(b("\r\n"));
    assert.ok(e?.kind === "command" && e.args[1]?.t === "string" && e.args[1].v.length === 1_000_000);
  });
});

// ------------------------------------------------------------------ properties

/** Random fragments that look like IMAP, to reach deep states more often than plain random bytes. */
const fragment = fc.oneof(
  fc.constantFrom("a ", "b1 ", "NOOP", "LOGIN", "APPEND", "IDLE", "DONE", "AUTHENTICATE", "STARTTLS", "UID FETCH", "BODY[", "]", "(", ")", '"', "\\", " ", "\r\n", "\n", "\r", "{", "}", "{3}", "{2+}", "~{1+}", "{0}\r\n", "{5+}\r\n", "{99999999+}\r\n", "<0.5>", "NIL", "*", "\0", "\xff"),
  fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 12 }).map((u) => Buffer.from(u).toString("latin1")),
);

describe("CommandReader: properties", () => {
  it("random input never throws and never buffers beyond the limits", () => {
    const options: ReaderOptions = { maxLineLength: 256, maxCommandSize: 512, maxLiteralSize: 1024, maxAppendSize: 2048, maxSkipSize: 4096, maxNesting: 4, maxTokens: 20 };
    fc.assert(
      fc.property(fc.array(fc.array(fragment, { maxLength: 20 }).map((f) => b(f.join(""))), { maxLength: 30 }), fc.boolean(), (chunks, accept) => {
        const r = new CommandReader(options);
        const handle = (list: ReaderEvent[]) => {
          for (const e of list) {
            if (e.kind === "continue") handle(accept ? r.acceptLiteral() : r.rejectLiteral());
            else if (e.kind === "command" && e.name === "IDLE" && r.paused) handle(r.expectDone());
            else if (e.kind === "command" && e.name === "AUTHENTICATE" && r.paused) handle(r.expectLine());
            else if ((e.kind === "command" || e.kind === "line") && r.paused) handle(r.resume());
            if (e.kind === "command") {
              assert.ok(e.size <= options.maxAppendSize! + options.maxLineLength!);
              assert.match(e.name, /^[A-Z0-9._ -]+$/);
            }
          }
        };
        for (const c of chunks) {
          handle(r.push(c));
          assert.ok(r.bufferedBytes <= options.maxLineLength! + options.maxAppendSize!, `buffered ${r.bufferedBytes}`);
        }
      }),
      { numRuns: 1500 },
    );
  });

  /** A random valid command: tag, name and arguments mixing atoms, quoted strings, lists and literals. */
  const arg: fc.Memo<string> = fc.memo((depth) =>
    fc.oneof(
      { depthSize: "small" },
      fc.stringMatching(/^[A-Za-z0-9$\\][A-Za-z0-9.:,*%$-]{0,6}$/).filter((s) => s.toUpperCase() !== "NIL"),
      fc.string({ maxLength: 8 }).filter((s) => !/[\r\n\0"\\]/.test(s)).map((s) => `"${s}"`),
      fc.tuple(fc.uint8Array({ maxLength: 10 }), fc.constantFrom("", "+")).map(([u, plus]) => {
        const data = Buffer.from(u.map((x) => x || 1)).toString("latin1");
        return `{${data.length}${plus}}\r\n${data}`;
      }),
      depth > 1 ? fc.array(arg(depth - 1), { maxLength: 4 }).map((xs) => `(${xs.join(" ")})`) : fc.constant("()"),
      fc.constantFrom("BODY[]", "BODY.PEEK[HEADER.FIELDS (From {2+}\r\nTo)]<0.9>", "BINARY[1.2]"),
    ),
  );
  const command = fc.tuple(fc.stringMatching(/^[A-Za-z0-9.]{1,5}$/), fc.constantFrom("NOOP", "LOGIN", "APPEND", "FETCH", "X-THING", "UID STORE"), fc.array(arg(3), { maxLength: 5 }))
    .map(([tag, name, args]) => `${tag} ${name}${args.map((a) => ` ${a}`).join("")}\r\n`);

  it("any chunking of a command stream yields the same events as one chunk", () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }), (cmds, cuts) => {
        const wire = b(cmds.join(""));
        const whole = drive(new CommandReader(), [wire]);
        assert.equal(whole.filter((e) => e.kind === "command").length, cmds.length, JSON.stringify(errors(whole)));
        const chunks: Buffer[] = [];
        let off = 0;
        for (const c of cuts) {
          if (off >= wire.length) break;
          chunks.push(wire.subarray(off, off + c));
          off += c;
        }
        chunks.push(wire.subarray(off));
        assert.deepEqual(drive(new CommandReader(), chunks), whole);
      }),
      { numRuns: 1000 },
    );
  });
});
