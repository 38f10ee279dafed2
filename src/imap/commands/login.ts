// Not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN, AUTHENTICATE
// (PLAIN and LOGIN, with SASL-IR, RFC 4959). SECURITY: no password before TLS
// unless the client is in auth.plaintext_networks (LOGINDISABLED, RFC 9051
// §6.2.3); every failure goes through the shared throttle in
// directory/auth.ts and is answered with one generic [AUTHENTICATIONFAILED].
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import { startSasl, type SaslStep } from "../../directory/sasl.js";
import { text } from "./tokens.js";

async function login(s: ImapSession, tag: string, username: string, password: string): Promise<void> {
  const result = await s.ctx.auth.login(username, password, s.client, "imap");
  if (!result.ok) {
    if (result.reason === "blocked") return s.no(tag, "Too many failed logins from your address, try again later", "UNAVAILABLE");
    return s.no(tag, "Authentication failed", "AUTHENTICATIONFAILED");
  }
  if (!s.loggedIn(result.user)) {
    s.log.info({ user: result.user.address }, "too many sessions for this user");
    return s.no(tag, "Too many sessions for this user", "LIMIT");
  }
  s.log.info({ user: result.user.address }, "logged in");
  s.ok(tag, "Logged in", `CAPABILITY ${s.capabilities().join(" ")}`);
}

export const loginCommands: [string, CommandHandler][] = [
  ["STARTTLS", {
    states: ["notauth"],
    resumesReader: false,
    async run(s, cmd) {
      if (cmd.args.length > 0) return s.bad(cmd.tag, "STARTTLS takes no arguments");
      if (s.secure) return s.bad(cmd.tag, "TLS is already active");
      s.startTls(cmd.tag);
    },
  }],
  ["LOGIN", {
    states: ["notauth"],
    async run(s, cmd) {
      if (!s.plaintextAllowed()) return s.no(cmd.tag, "Plaintext authentication disallowed on non-secure connections: use STARTTLS", "PRIVACYREQUIRED");
      const [user, pass] = cmd.args.map(text);
      if (cmd.args.length !== 2 || user === undefined || pass === undefined) return s.bad(cmd.tag, "Syntax: LOGIN user password");
      await login(s, cmd.tag, user, pass);
    },
  }],
  ["AUTHENTICATE", {
    states: ["notauth"],
    async run(s, cmd) {
      const mechanism = text(cmd.args[0]);
      const initial = cmd.args.length > 1 ? text(cmd.args[1]) : undefined;
      if (!mechanism || cmd.args.length > 2) return s.bad(cmd.tag, "Syntax: AUTHENTICATE mechanism [initial-response]");
      if (!s.plaintextAllowed()) return s.no(cmd.tag, "Authentication disallowed on non-secure connections: use STARTTLS", "PRIVACYREQUIRED");
      const started = startSasl(mechanism, initial);
      if (!started) return s.no(cmd.tag, "Unsupported authentication mechanism", "CANNOT");
      let step: SaslStep = started.first;
      while (step.kind === "challenge") {
        s.write(`+ ${step.challenge}\r\n`);
        const line = await s.nextLine();
        if (line === undefined) return;
        if (line === "*") return s.bad(cmd.tag, "Authentication aborted");
        step = started.exchange.respond(line);
      }
      if (step.kind === "error") return s.bad(cmd.tag, `Authentication failed: ${step.message}`);
      if (step.authzid && step.authzid.toLowerCase() !== step.username.toLowerCase()) {
        return s.no(cmd.tag, "Authorization identity must be the user", "AUTHORIZATIONFAILED");
      }
      await login(s, cmd.tag, step.username, step.password);
    },
  }],
];
