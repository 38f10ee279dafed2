// Not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN, AUTHENTICATE
// (PLAIN and LOGIN, with SASL-IR, RFC 4959). SECURITY: no password before TLS
// unless the client is in auth.plaintext_networks (LOGINDISABLED, RFC 9051
// §6.2.3); every failure goes through the shared throttle in
// directory/auth.ts and is answered with one generic [AUTHENTICATIONFAILED].
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import { startSasl, type SaslStep } from "../../directory/sasl.js";
import { parseAuthenticate, parseLogin } from "../session-args.js";
import { withArgs, withoutArgs } from "./reply.js";

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
    ...withoutArgs(["notauth"], (s, tag) => (s.secure ? s.bad(tag, "TLS is already active") : s.startTls(tag))),
    resumesReader: false,
  }],
  ["LOGIN", withArgs(["notauth"], (cmd) => parseLogin(cmd.args), async (s, tag, { user, password }) => {
    if (!s.plaintextAllowed()) return s.no(tag, "Plaintext authentication disallowed on non-secure connections: use STARTTLS", "PRIVACYREQUIRED");
    await login(s, tag, user, password);
  })],
  ["AUTHENTICATE", withArgs(["notauth"], (cmd) => parseAuthenticate(cmd.args), async (s, tag, { mechanism, initialResponse }) => {
    if (!s.plaintextAllowed()) return s.no(tag, "Authentication disallowed on non-secure connections: use STARTTLS", "PRIVACYREQUIRED");
    const started = startSasl(mechanism, initialResponse);
    if (!started) return s.no(tag, "Unsupported authentication mechanism", "CANNOT");
    let step: SaslStep = started.first;
    while (step.kind === "challenge") {
      s.write(`+ ${step.challenge}\r\n`);
      const line = await s.nextLine();
      if (line === undefined) return;
      if (line === "*") return s.bad(tag, "Authentication aborted");
      step = started.exchange.respond(line);
    }
    if (step.kind === "error") return s.bad(tag, `Authentication failed: ${step.message}`);
    if (step.authzid && step.authzid.toLowerCase() !== step.username.toLowerCase()) {
      return s.no(tag, "Authorization identity must be the user", "AUTHORIZATIONFAILED");
    }
    await login(s, tag, step.username, step.password);
  })],
];
