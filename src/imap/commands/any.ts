// Commands valid in every state (RFC 9051 §6.1): CAPABILITY, NOOP, LOGOUT,
// and ID (RFC 2971), plus ENABLE (RFC 5161, authenticated states).
// Arguments are parsed by args.ts (parseId: RFC 2971 §3.3 limits).
import type { CommandHandler } from "./index.js";
import { imapString } from "../quote.js";
import { parseEnable, parseId } from "../args.js";
import { noArgs, refuse } from "./reply.js";

const ALL = ["notauth", "auth", "selected"] as const;

/** What ENABLE can switch on (RFC 5161 §3.1, RFC 7162, RFC 6855, RFC 9051). */
const ENABLABLE = new Set(["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"]);

export const anyStateCommands: [string, CommandHandler][] = [
  ["CAPABILITY", {
    states: ALL,
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      s.untagged(`CAPABILITY ${s.capabilities().join(" ")}`);
      s.ok(cmd.tag, "CAPABILITY completed");
    },
  }],
  ["NOOP", {
    states: ALL,
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      s.ok(cmd.tag, "NOOP completed");
    },
  }],
  ["LOGOUT", {
    states: ALL,
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      s.untagged("BYE Logging out");
      s.ok(cmd.tag, "LOGOUT completed");
      s.end();
    },
  }],
  ["ID", {
    states: ALL,
    async run(s, cmd) {
      const id = parseId(cmd.args);
      if (!id.ok) return refuse(s, cmd.tag, id);
      if (id.value) s.log.info({ id: Object.fromEntries(id.value.map(([field, value]) => [field, value?.slice(0, 200) ?? null])) }, "client id");
      s.untagged(`ID ("name" "Petrel" "vendor" "Petrel" "support-url" ${imapString("https://github.com/petrel-mail")})`);
      s.ok(cmd.tag, "ID completed");
    },
  }],
  ["ENABLE", {
    states: ["auth", "selected"],
    async run(s, cmd) {
      const names = parseEnable(cmd.args);
      if (!names.ok) return refuse(s, cmd.tag, names);
      const newly: string[] = [];
      for (const name of names.value) {
        if (!ENABLABLE.has(name) || s.enabled.has(name)) continue;
        s.enabled.add(name);
        if (name === "QRESYNC") s.enabled.add("CONDSTORE"); // RFC 7162 §3.2.3
        newly.push(name === "IMAP4REV2" ? "IMAP4rev2" : name);
      }
      s.untagged(`ENABLED${newly.map((n) => ` ${n}`).join("")}`);
      s.ok(cmd.tag, "ENABLE completed");
    },
  }],
];
