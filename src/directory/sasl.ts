// SASL mechanisms for every protocol's AUTH (SMTP RFC 4954, POP3 RFC 5034,
// IMAP RFC 3501/9051): PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login),
// as small step machines over base64 lines. Trusted with passwords only to
// hand them to directory/auth.ts; never logs them.
export type SaslStep =
  | { kind: "challenge"; challenge: string }
  | { kind: "done"; username: string; password: string; authzid: string }
  | { kind: "error"; message: string };

export interface SaslExchange {
  /** The next step for a client response (base64, without CRLF). */
  respond(response: string): SaslStep;
}

export const SASL_MECHANISMS = ["PLAIN", "LOGIN"] as const;

const MAX_RESPONSE = 4096;
const isBase64 = (s: string) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s);

function decode(response: string): string | undefined {
  if (response.length > MAX_RESPONSE || !isBase64(response)) return undefined;
  return Buffer.from(response, "base64").toString("utf8");
}

/**
 * Starts an exchange. `initial` is the initial response (SASL-IR, or the
 * argument of "AUTH PLAIN xxx"); "=" stands for an empty one.
 */
export function startSasl(mechanism: string, initial: string | undefined): { exchange: SaslExchange; first: SaslStep } | undefined {
  switch (mechanism.toUpperCase()) {
    case "PLAIN": {
      const exchange: SaslExchange = { respond: (r) => plain(r) };
      return { exchange, first: initial === undefined ? { kind: "challenge", challenge: "" } : plain(initial === "=" ? "" : initial) };
    }
    case "LOGIN": {
      let username: string | undefined;
      const exchange: SaslExchange = {
        respond(r) {
          const text = decode(r === "=" ? "" : r);
          if (text === undefined) return { kind: "error", message: "invalid base64" };
          if (username === undefined) {
            username = text;
            return { kind: "challenge", challenge: Buffer.from("Password:").toString("base64") };
          }
          return { kind: "done", username, password: text, authzid: "" };
        },
      };
      const first: SaslStep = initial === undefined ? { kind: "challenge", challenge: Buffer.from("Username:").toString("base64") } : exchange.respond(initial);
      return { exchange, first };
    }
    default:
      return undefined;
  }
}

function plain(response: string): SaslStep {
  const text = decode(response);
  if (text === undefined) return { kind: "error", message: "invalid base64" };
  const parts = text.split("\0");
  if (parts.length !== 3 || parts[1] === "") return { kind: "error", message: "malformed PLAIN response" };
  return { kind: "done", authzid: parts[0], username: parts[1], password: parts[2] };
}
