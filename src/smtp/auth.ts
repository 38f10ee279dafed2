// SMTP AUTH (RFC 4954) as one exchange: the AUTH command with an optional
// initial response, 334 challenges, "*" to abort, and the verdict of the
// shared Authenticator (235 2.7.0, 535 5.7.8, or 454 4.7.0 for a throttled
// address). Trusted with the password for the length of one check; the
// session decides whether AUTH may be offered at all (TLS or a plaintext
// network).
import type { Authenticator } from "../directory/auth.js";
import { startSasl, type SaslExchange, type SaslStep } from "../directory/sasl.js";
import type { UserRecord } from "../store/interfaces.js";
import { reply, type Reply } from "./reply.js";

export type AuthOutcome =
  | { kind: "continue"; reply: Reply }
  | { kind: "failed"; reply: Reply }
  | { kind: "authenticated"; user: UserRecord; reply: Reply };

export class SmtpAuthExchange {
  private sasl: SaslExchange | undefined;

  constructor(private readonly auth: Authenticator, private readonly client: string) {}

  /** The AUTH command's argument: "MECHANISM [initial-response]". */
  async start(arg: string): Promise<AuthOutcome> {
    const [mechanism = "", initial, ...extra] = arg.split(" ");
    if (extra.length) return { kind: "failed", reply: reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]") };
    const started = startSasl(mechanism, initial);
    if (!started) return { kind: "failed", reply: reply(504, "5.5.4", "Unrecognized authentication type") };
    this.sasl = started.exchange;
    return this.step(started.first);
  }

  /** A client line during the exchange. */
  async respond(line: string): Promise<AuthOutcome> {
    if (line === "*" || !this.sasl) return { kind: "failed", reply: reply(501, "5.0.0", "Authentication aborted") };
    return this.step(this.sasl.respond(line));
  }

  private async step(step: SaslStep): Promise<AuthOutcome> {
    if (step.kind === "challenge") return { kind: "continue", reply: reply(334, undefined, step.challenge) };
    if (step.kind === "error") return { kind: "failed", reply: reply(501, "5.5.2", `Cannot decode response: ${step.message}`) };
    if (step.authzid && step.authzid.toLowerCase() !== step.username.toLowerCase()) {
      return { kind: "failed", reply: reply(535, "5.7.8", "Authentication credentials invalid") };
    }
    const result = await this.auth.login(step.username, step.password, this.client, "smtp");
    if (result.ok) return { kind: "authenticated", user: result.user, reply: reply(235, "2.7.0", "Authentication successful") };
    if (result.reason === "blocked") return { kind: "failed", reply: reply(454, "4.7.0", "Too many failed logins from your address, try again later") };
    return { kind: "failed", reply: reply(535, "5.7.8", "Authentication credentials invalid") };
  }
}
