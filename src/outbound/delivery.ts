// Outbound delivery (Postfix's smtp(8) with qmgr's concurrency control):
// takes the remote recipients of a queued message, finds the next MTA
// (outbound/router.ts) and hands the message over with the SMTP client,
// reusing connections for several messages to one destination. Limits:
// delivery.max_connections in all, max_connections_per_destination each,
// with a slow start (a destination begins with a few connections and earns
// more by delivering; a failing one drops back to one). When no host of a
// destination answers, everything waiting for it is deferred at once
// instead of each message waiting for its own connect timeout.
// Per recipient: 2xx sent, 4xx deferred, 5xx failed (RFC 5321 §4.2.1);
// SIZE (RFC 1870), 8BITMIME (RFC 6152 §3) and SMTPUTF8 (RFC 6531 §3.5) are
// checked before sending, and mail that needs an extension the next hop
// lacks is returned rather than damaged.
import { isAscii } from "node:buffer";
import type { Logger } from "../log/logger.js";
import type { BlobStore, QueuedMessage, QueuedRecipient } from "../store/interfaces.js";
import type { AttemptResult } from "../queue/retry-policy.js";
import type { RemoteDelivery } from "../queue/scheduler.js";
import { connectSmtp, type ConnectOptions, type SmtpClientConnection, type SmtpReply } from "./smtp-client.js";
import type { Router } from "./router.js";

export interface OutboundOptions {
  helo: string;
  port: number;
  sourceAddress?: string;
  connectTimeout: number;
  maxConnections: number;
  maxPerDestination: number;
  maxMessagesPerConnection: number;
  /** TLS and AUTH for the smarthost; MX hosts get opportunistic STARTTLS. */
  smarthost?: { tls: "starttls" | "implicit" | "opportunistic"; auth?: { username: string; password: string }; ca?: Buffer };
  /** How long a connection with nothing to send waits for more mail before QUIT. */
  idleMs?: number;
}

/** RFC 5321 §4.5.3.1.8 requires 100 recipients per transaction; Postfix sends 50. */
const RECIPIENTS_PER_TRANSACTION = 50;
const INITIAL_CONCURRENCY = 5;
const MAX_ADDRESSES_TRIED = 5;
/** Messages up to this size are read whole instead of streamed. */
const SMALL_MESSAGE = 256 * 1024;

interface Job {
  message: QueuedMessage;
  domain: string;
  recipients: QueuedRecipient[];
  resolve: (results: AttemptResult[]) => void;
}

interface Destination {
  key: string;
  jobs: Job[];
  workers: number;
  concurrency: number;
  /** Workers idling on an open connection, woken by new jobs. */
  idle: (() => void)[];
  /** Workers about to take a job (connecting, or just woken): pump() counts them before starting more. */
  claims: number;
}

interface Origin { eightBit?: boolean; smtputf8?: boolean; utf8Header?: boolean }

export class OutboundDelivery implements RemoteDelivery {
  private readonly destinations = new Map<string, Destination>();
  private connections = 0;
  private closing = false;

  constructor(
    private readonly router: Router,
    private readonly blobs: BlobStore,
    private readonly options: OutboundOptions,
    private readonly log: Logger,
  ) {}

  deliver(message: QueuedMessage, domain: string, recipients: QueuedRecipient[]): Promise<AttemptResult[]> {
    const key = this.router.destinationOf(domain);
    let dest = this.destinations.get(key);
    if (!dest) this.destinations.set(key, (dest = { key, jobs: [], workers: 0, concurrency: INITIAL_CONCURRENCY, idle: [], claims: 0 }));
    const chunks: Promise<AttemptResult[]>[] = [];
    for (let i = 0; i < recipients.length; i += RECIPIENTS_PER_TRANSACTION) {
      const part = recipients.slice(i, i + RECIPIENTS_PER_TRANSACTION);
      chunks.push(new Promise((resolve) => dest.jobs.push({ message, domain, recipients: part, resolve })));
    }
    this.pump();
    return Promise.all(chunks).then((parts) => parts.flat());
  }

  /** Stops idle connections; deliveries under way finish. */
  close(): void {
    this.closing = true;
    for (const dest of this.destinations.values()) {
      for (const wake of dest.idle.splice(0)) {
        dest.claims++;
        wake();
      }
    }
  }

  /** Starts workers where jobs wait and the limits allow, oldest destinations first. */
  private pump(): void {
    for (const dest of this.destinations.values()) {
      while (dest.idle.length > 0 && dest.jobs.length > dest.claims) {
        dest.claims++;
        dest.idle.shift()!();
      }
      const limit = Math.min(dest.concurrency, this.options.maxPerDestination);
      while (dest.jobs.length > dest.claims && dest.workers < limit && this.connections < this.options.maxConnections) {
        void this.worker(dest);
      }
      if (dest.jobs.length === 0 && dest.workers === 0) this.destinations.delete(dest.key);
    }
  }

  private async worker(dest: Destination): Promise<void> {
    this.connections++;
    dest.workers++;
    let connection: SmtpClientConnection | undefined;
    let sent = 0;
    try {
      for (;;) {
        if (dest.jobs.length === 0) {
          if (!connection || this.closing || !(await this.waitForJob(dest))) break;
          continue;
        }
        if (!connection || !connection.usable || sent >= this.options.maxMessagesPerConnection) {
          if (connection) await connection.quit();
          connection = undefined;
          sent = 0;
          dest.claims++;
          const opened = await this.open(dest.jobs[0]?.domain ?? dest.key).finally(() => dest.claims--);
          if (dest.jobs.length === 0) {
            if (opened.ok) connection = opened.connection;
            continue;
          }
          if (!opened.ok) {
            // A dead destination: everything waiting for it now gets this answer.
            dest.concurrency = 1;
            const result: AttemptResult = opened.permanent ? { status: "bounced", error: opened.error } : { status: "deferred", error: opened.error };
            for (const job of dest.jobs.splice(0)) job.resolve(job.recipients.map(() => result));
            break;
          }
          connection = opened.connection;
        }
        const job = dest.jobs.shift()!;
        const results = await this.transact(connection, job);
        sent++;
        if (results.some((r) => r.status === "sent")) dest.concurrency = Math.min(dest.concurrency + 1, this.options.maxPerDestination);
        job.resolve(results);
      }
    } catch (err) {
      this.log.error({ destination: dest.key, err: (err as Error).stack }, "outbound worker error");
      for (const job of dest.jobs.splice(0)) job.resolve(job.recipients.map(() => ({ status: "deferred", error: `4.3.0 local error: ${(err as Error).message}` })));
    } finally {
      if (connection) await connection.quit();
      this.connections--;
      dest.workers--;
      this.pump();
    }
  }

  /** Waits briefly on an open connection for another message to the same destination. */
  private waitForJob(dest: Destination): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        dest.claims = Math.max(0, dest.claims - 1);
        resolve(dest.jobs.length > 0);
      };
      const timer = setTimeout(() => {
        dest.idle = dest.idle.filter((w) => w !== wake);
        resolve(false);
      }, this.options.idleMs ?? 1000);
      dest.idle.push(wake);
    });
  }

  /** Connects to the first host of the route that answers (RFC 5321 §5.1: next address, then next MX). */
  private async open(domain: string): Promise<{ ok: true; connection: SmtpClientConnection } | { ok: false; permanent: boolean; error: string }> {
    const route = await this.router.route(domain);
    if (!route.ok) {
      if (route.misconfigured) this.log.error({ domain, err: route.error }, "relay domain misconfigured: mail kept in the queue");
      return route;
    }
    const smarthost = this.options.smarthost;
    const tls: ConnectOptions["tls"] = !smarthost ? "opportunistic" : smarthost.tls === "starttls" ? "required" : smarthost.tls;
    const errors: string[] = [];
    let tried = 0;
    for (const hop of route.hops) {
      for (const address of hop.addresses) {
        if (tried++ >= MAX_ADDRESSES_TRIED) break;
        const base: ConnectOptions = {
          host: hop.host, address, port: this.options.port, localAddress: this.options.sourceAddress, helo: this.options.helo, tls,
          ca: smarthost?.ca, auth: smarthost?.auth, timeouts: { connect: this.options.connectTimeout },
        };
        let result = await connectSmtp(base);
        if (!result.ok && result.stage === "starttls" && tls === "opportunistic") {
          // Postfix does the same: a broken TLS stack on the other side is no reason to keep mail waiting.
          this.log.info({ host: hop.host, address, err: result.error }, "TLS handshake failed, retrying without TLS");
          result = await connectSmtp({ ...base, tls: "none" });
        }
        if (result.ok) {
          const c = result.connection;
          this.log.debug({ relay: `${hop.host}[${address}]:${this.options.port}`, tls: c.tls ? `${c.tls.version} ${c.tls.cipher}` : "none" }, "connected");
          return { ok: true, connection: c };
        }
        const why = result.reply ? result.reply.text : result.error;
        errors.push(`${hop.host}[${address}]:${this.options.port} ${result.stage}: ${why}`);
        this.log.info({ domain, host: hop.host, address, stage: result.stage, err: why }, "cannot use mail host");
      }
    }
    const unresolved = route.unresolved.length > 0 ? `; no address for ${route.unresolved.join(", ")}` : "";
    return { ok: false, permanent: false, error: `4.4.1 ${errors.at(-1) ?? "no host tried"}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""}${unresolved}` };
  }

  private async transact(connection: SmtpClientConnection, job: Job): Promise<AttemptResult[]> {
    const { message, recipients } = job;
    const origin = parseOrigin(message.origin);
    const ext = connection.extensions;
    const relay = `${connection.host}[${connection.address}]:${connection.port}`;
    const tls = connection.tls ? `${connection.tls.version} ${connection.tls.cipher}` : undefined;
    const remoteMta = connection.host;
    const all = (status: "deferred" | "bounced", error: string): AttemptResult[] => recipients.map(() => ({ status, error, remoteMta, relay, tls }));
    const trace = Buffer.from(message.trace, "latin1");
    const size = trace.length + message.size;
    const limit = Number(ext.get("SIZE") ?? 0);
    if (limit > 0 && size > limit) return all("bounced", `5.3.4 message size ${size} exceeds the limit of ${connection.host} (${limit} bytes)`);
    if (origin.eightBit && !ext.has("8BITMIME")) {
      return all("bounced", `5.6.3 ${connection.host} does not accept 8-bit mail (no 8BITMIME) and this message cannot be sent as 7-bit`);
    }
    const utf8Envelope = !isAscii(Buffer.from(message.sender)) || recipients.some((r) => !isAscii(Buffer.from(r.address)));
    const needsUtf8 = utf8Envelope || (origin.smtputf8 === true && origin.utf8Header === true);
    if (needsUtf8 && !ext.has("SMTPUTF8")) {
      return all("bounced", `5.6.7 ${connection.host} does not support SMTPUTF8, which this message needs (RFC 6531)`);
    }
    const blobs = this.blobs;
    const result = await connection.send({
      sender: message.sender,
      recipients: recipients.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
      size,
      eightBit: origin.eightBit === true,
      smtputf8: needsUtf8 || (origin.smtputf8 === true && ext.has("SMTPUTF8")),
      ret: message.ret as "FULL" | "HDRS" | null,
      envid: message.envId,
      async *content() {
        if (message.size <= SMALL_MESSAGE) {
          // One buffer, one write: a small message is read whole (synchronously, for the smallest).
          yield Buffer.concat([trace, await blobs.readAll(message.blobId, message.size)]);
          return;
        }
        yield trace;
        for await (const chunk of blobs.read(message.blobId)) yield chunk as Buffer;
      },
    });
    if (!result.ok) {
      const during = result.stage === "network" ? result.during ?? "the transaction" : result.stage;
      return all("deferred", `4.4.2 lost connection with ${relay} during ${during}: ${result.error}`);
    }
    const verdict = (reply: SmtpReply, stage: string): AttemptResult | undefined => {
      if (reply.code >= 200 && reply.code < 300) return undefined;
      const error = `${reply.text} (in reply to ${stage})`;
      return reply.code >= 500 ? { status: "bounced", error, remoteMta, relay, tls } : { status: "deferred", error, remoteMta, relay, tls };
    };
    const mailFailure = verdict(result.mail, "MAIL FROM");
    if (mailFailure) return recipients.map(() => mailFailure);
    const passedOn = ext.has("DSN");
    return recipients.map((_, i) => {
      const rcpt = result.recipients[i];
      const rcptFailure = rcpt ? verdict(rcpt, "RCPT TO") : { status: "deferred" as const, error: "4.4.2 no reply to RCPT TO", remoteMta, relay, tls };
      if (rcptFailure) return rcptFailure;
      if (!result.data) return { status: "deferred", error: "4.4.2 no reply to DATA", remoteMta, relay, tls };
      return verdict(result.data, "end of DATA") ?? { status: "sent", reply: result.data.text, remoteMta, relay, tls, notifyPassedOn: passedOn };
    });
  }
}

function parseOrigin(text: string): Origin {
  try {
    return JSON.parse(text) as Origin;
  } catch {
    return {};
  }
}
