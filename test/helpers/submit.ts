// Putting mail into Petrel the way a client submits it, for tests that need
// messages in the queue rather than a test of the SMTP dialogue itself: one
// session to a listener (EHLO, then MAIL, RCPT and DATA for each message, QUIT)
// that returns each message's queue id and its RCPT replies.
import assert from "node:assert/strict";
import type { PetrelServer } from "./petrel.js";
import { connect, expectReply, type SmtpClient } from "./smtp-client.js";

export interface OutgoingMessage {
  /** the reverse path; "" for the null sender */
  from: string;
  to: string[];
  /** ESMTP parameters after MAIL FROM:<…>, e.g. "BODY=8BITMIME" */
  mailParams?: string;
  /** ESMTP parameters after every RCPT TO:<…>, e.g. "NOTIFY=NEVER" */
  rcptParams?: string;
  /** What follows DATA up to the final ".": CRLF lines ending in CRLF, no line starting with ".".
   * Default: From, To, Subject and Message-ID headers and "Hello there." */
  body?: string;
  /** Subject of the default body (default "test message") */
  subject?: string;
  /** Message-ID of the default body, without <> (default a fresh random one) */
  messageId?: string;
}

export interface SessionOptions {
  /** the client's address (any 127.x.y.z), to play another host */
  localAddress?: string;
  /** the EHLO name (default "client.test") */
  helo?: string;
  /** Without it, every RCPT must get 250. With it, the replies are only returned, and DATA follows only when one recipient was accepted (else RSET). */
  allowRefusals?: boolean;
  /** how long to wait for the reply to the final "." (default that of smtp-client.ts) */
  queueTimeoutMs?: number;
}

export interface Submitted {
  /** from "250 2.0.0 Ok: queued as ID" */
  qid: string;
  /** the reply to each RCPT, in order */
  rcpt: string[];
}

/** As Submitted, but with no queue id when every recipient was refused. */
export type Offered = Omit<Submitted, "qid"> & { qid?: string };

type Target = PetrelServer | { host: string; port: number };

/**
 * Sends one message (or several in a row, on the same connection) to the
 * server's smtp listener (or to host:port); fails the test on any reply other
 * than the expected one, except refused recipients with allowRefusals.
 */
export function sendMessages(target: Target, message: OutgoingMessage, session: SessionOptions & { allowRefusals: true }): Promise<Offered>;
export function sendMessages(target: Target, message: OutgoingMessage, session?: SessionOptions & { allowRefusals?: false }): Promise<Submitted>;
export function sendMessages(target: Target, messages: OutgoingMessage[], session?: SessionOptions & { allowRefusals?: false }): Promise<Submitted[]>;
export async function sendMessages(target: Target, messages: OutgoingMessage | OutgoingMessage[], session: SessionOptions = {}): Promise<Offered | Offered[]> {
  const { host, port } = "listeners" in target ? target.listeners.smtp : target;
  const c = await connect(host, port, session.localAddress);
  const results: Offered[] = [];
  try {
    assert.match(await c.read(), /^220/);
    await expectReply(c, `EHLO ${session.helo ?? "client.test"}`, /^250/);
    for (const m of Array.isArray(messages) ? messages : [messages]) results.push(await transaction(c, m, session));
    await c.send("QUIT");
  } finally {
    c.close();
  }
  return Array.isArray(messages) ? results : results[0];
}

async function transaction(c: SmtpClient, m: OutgoingMessage, session: SessionOptions): Promise<Offered> {
  const params = (p: string | undefined) => (p ? ` ${p}` : "");
  await expectReply(c, `MAIL FROM:<${m.from}>${params(m.mailParams)}`, /^250/);
  const rcpt: string[] = [];
  for (const to of m.to) {
    const line = `RCPT TO:<${to}>${params(m.rcptParams)}`;
    if (session.allowRefusals) {
      await c.send(line);
      rcpt.push(await c.read());
    } else rcpt.push(await expectReply(c, line, /^250/));
  }
  if (!rcpt.some((r) => r.startsWith("250"))) {
    await expectReply(c, "RSET", /^250/);
    return { rcpt };
  }
  await expectReply(c, "DATA", /^354/);
  const id = m.messageId ?? `${Math.random().toString(36).slice(2)}@client.test`;
  const body = m.body ?? `From: <${m.from}>\r\nTo: <${m.to[0]}>\r\nSubject: ${m.subject ?? "test message"}\r\nMessage-ID: <${id}>\r\n\r\nHello there.\r\n`;
  await c.write(`${body}.\r\n`);
  const done = await c.read(session.queueTimeoutMs);
  const queued = /^250 2\.0\.0 Ok: queued as (\S+)/.exec(done);
  assert.ok(queued, done);
  return { qid: queued[1], rcpt };
}
