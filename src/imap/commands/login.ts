// Not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN, AUTHENTICATE
// (PLAIN and LOGIN, with SASL-IR, RFC 4959). SECURITY: no password before TLS
// unless the client is in auth.plaintext_networks (LOGINDISABLED, RFC 9051
// §6.2.3); every failure goes through the shared throttle in
// directory/auth.ts and is answered with one generic [AUTHENTICATIONFAILED].
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import { startSasl, type SaslStep } from "../../directory/sasl.js";
import { parseAuthenticate, parseLogin } from "../args.js";
import { noArgs, refuse } from "./reply.js";

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
      if (!noArgs(s, cmd)) return;
      if (s.secure) return s.bad(cmd.tag, "TLS is already active");
      s.startTls(cmd.tag);
    },
  }],
  ["LOGIN", {
    states: ["notauth"],
    async run(s, cmd) {
      if (!s.plaintextAllowed()) return s.no(cmd.tag, "Plaintext authentication disallowed on non-secure connections: use STARTTLS", "PRIVACYREQUIRED");
      const args = parseLogin(cmd.args);
      if (!args.ok) return refuse(s, cmd.tag, args);
      await login(s, cmd.tag, args.value.user, args.value.password);
    },
  }],
  ["AUTHENTICATE", {
    states: ["notauth"],
    async run(s, cmd) {
      const args = parseAuthenticate(cmd.args);
      if (!args.ok) return refuse(s, cmd.tag, args);
      if (!s.plaintextAllowed()) return s.no(cmd.tag, "Authentication disallowed on non-secure connections: use STARTTLS", "PRIVACYREQUIRED");
      const started = startSasl(args.value.mechanism, args.value.initialResponse);
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
