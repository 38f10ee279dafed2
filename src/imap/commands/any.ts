// Commands valid in every state (RFC 9051 §6.1): CAPABILITY, NOOP, LOGOUT,
// and ID (RFC 2971), plus ENABLE (RFC 5161, authenticated states).
import type { CommandHandler } from "./index.js";
import { imapString } from "../quote.js";
import { text } from "./tokens.js";

const ALL = ["notauth", "auth", "selected"] as const;

/** RFC 2971 §3.3: at most 30 pairs, field names ≤ 30 octets, values ≤ 1024. */
const MAX_ID_PAIRS = 30;

/** What ENABLE can switch on (RFC 5161 §3.1, RFC 7162, RFC 6855, RFC 9051). */
const ENABLABLE = new Set(["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"]);

export const anyStateCommands: [string, CommandHandler][] = [
  ["CAPABILITY", {
    states: ALL,
    async run(s, cmd) {
      if (cmd.args.length > 0) return s.bad(cmd.tag, "CAPABILITY takes no arguments");
      s.untagged(`CAPABILITY ${s.capabilities().join(" ")}`);
      s.ok(cmd.tag, "CAPABILITY completed");
    },
  }],
  ["NOOP", {
    states: ALL,
    async run(s, cmd) {
      s.ok(cmd.tag, "NOOP completed");
    },
  }],
  ["LOGOUT", {
    states: ALL,
    async run(s, cmd) {
      s.untagged("BYE Logging out");
      s.ok(cmd.tag, "LOGOUT completed");
      s.end();
    },
  }],
  ["ID", {
    states: ALL,
    async run(s, cmd) {
      const [arg] = cmd.args;
      if (cmd.args.length !== 1 || (arg.t !== "nil" && arg.t !== "list")) return s.bad(cmd.tag, "Syntax: ID (name value ...) or ID NIL");
      if (arg.t === "list") {
        const values = arg.v.map(text);
        if (values.length % 2 !== 0 || values.length > 2 * MAX_ID_PAIRS || values.some((v) => v === undefined || v.length > 1024)) {
          return s.bad(cmd.tag, "ID: up to 30 name/value pairs of strings");
        }
        const fields: Record<string, string> = {};
        for (let i = 0; i < values.length; i += 2) fields[values[i]!.slice(0, 30)] = values[i + 1]!.slice(0, 200);
        s.log.info({ id: fields }, "client id");
      }
      s.untagged(`ID ("name" "Petrel" "vendor" "Petrel" "support-url" ${imapString("https://github.com/petrel-mail")})`);
      s.ok(cmd.tag, "ID completed");
    },
  }],
  ["ENABLE", {
    states: ["auth", "selected"],
    async run(s, cmd) {
      if (cmd.args.length === 0) return s.bad(cmd.tag, "Syntax: ENABLE capability...");
      const newly: string[] = [];
      for (const arg of cmd.args) {
        const name = text(arg)?.toUpperCase();
        if (!name || !ENABLABLE.has(name) || s.enabled.has(name)) continue;
        s.enabled.add(name);
        if (name === "QRESYNC") s.enabled.add("CONDSTORE"); // RFC 7162 §3.2.3
        newly.push(name === "IMAP4REV2" ? "IMAP4rev2" : name);
      }
      s.untagged(`ENABLED${newly.map((n) => ` ${n}`).join("")}`);
      s.ok(cmd.tag, "ENABLE completed");
    },
  }],
];
