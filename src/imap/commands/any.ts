// Commands valid in every state (RFC 9051 §6.1): CAPABILITY, NOOP, LOGOUT,
// and ID (RFC 2971), plus ENABLE (RFC 5161, authenticated states).
// Arguments are parsed by session-args.ts (parseId: RFC 2971 §3.3 limits).
import type { CommandHandler } from "./index.js";
import { imapString } from "../quote.js";
import { parseEnable, parseId } from "../session-args.js";
import { withArgs, withoutArgs } from "./reply.js";

const ALL = ["notauth", "auth", "selected"] as const;

/** What ENABLE can switch on (RFC 5161 §3.1, RFC 7162, RFC 6855, RFC 9051). */
const ENABLABLE = new Set(["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"]);

export const anyStateCommands: [string, CommandHandler][] = [
  ["CAPABILITY", withoutArgs(ALL, (s, tag) => {
    s.untagged(`CAPABILITY ${s.capabilities().join(" ")}`);
    s.ok(tag, "CAPABILITY completed");
  })],
  ["NOOP", withoutArgs(ALL, (s, tag) => s.ok(tag, "NOOP completed"))],
  ["LOGOUT", withoutArgs(ALL, (s, tag) => {
    s.untagged("BYE Logging out");
    s.ok(tag, "LOGOUT completed");
    s.end();
  })],
  ["ID", withArgs(ALL, (cmd) => parseId(cmd.args), (s, tag, fields) => {
    if (fields) s.log.info({ id: Object.fromEntries(fields.map(([field, value]) => [field, value?.slice(0, 200) ?? null])) }, "client id");
    s.untagged(`ID ("name" "Petrel" "vendor" "Petrel" "support-url" ${imapString("https://github.com/petrel-mail")})`);
    s.ok(tag, "ID completed");
  })],
  ["ENABLE", withArgs(["auth", "selected"], (cmd) => parseEnable(cmd.args), (s, tag, names) => {
    const newly: string[] = [];
    for (const name of names) {
      if (!ENABLABLE.has(name) || s.enabled.has(name)) continue;
      s.enabled.add(name);
      if (name === "QRESYNC") s.enabled.add("CONDSTORE"); // RFC 7162 §3.2.3
      newly.push(name === "IMAP4REV2" ? "IMAP4rev2" : name);
    }
    s.untagged(`ENABLED${newly.map((n) => ` ${n}`).join("")}`);
    s.ok(tag, "ENABLE completed");
  })],
];
