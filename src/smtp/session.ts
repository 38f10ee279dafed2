// One inbound SMTP session (RFC 5321): greeting, EHLO/HELO, MAIL, RCPT,
// DATA, RSET, NOOP, QUIT, HELP, VRFY/EXPN (252, revealing nobody), STARTTLS
// (RFC 3207), PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
// SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034/3463), DSN (RFC 3461:
// RET, ENVID, NOTIFY, ORCPT kept with the queued message), ETRN (RFC 1985,
// for relay.domains, from relay.networks clients).
// SECURITY: everything from the socket is attacker-controlled. Every input has
// a limit (line length, recipients, size, errors, idle time) answered with
// its proper code; input pipelined after STARTTLS is discarded (CVE-2011-0411
// class); a 250 after DATA is sent only once the message is durable.
import net from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import type { Stores } from "../store/interfaces.js";
import type { RecipientResolver, Destination } from "../directory/resolve.js";
import type { Acceptor } from "../queue/accept.js";
import type { DnsResolver } from "../dns/resolver.js";
import type { NetworkList } from "../net/cidr.js";
import { unmapIPv4 } from "../net/cidr.js";
import { describeTls, upgradeToTls } from "../net/tls.js";
import { newQueueId } from "../queue/queue-id.js";
import { protocolName, receivedHeader } from "../delivery/trace.js";
import { isAscii } from "node:buffer";
import type { BlobWriter } from "../store/interfaces.js";
import { parseCommandLine, parseHeloName } from "./command.js";
import { checkSmtpUtf8, parseMailFrom, parseRcptTo, type EsmtpParams } from "./address.js";
import { checkRecipient } from "./policy.js";
import type { RelayDomains } from "./relay-domains.js";
import { ownsAddress, takeSendingAllowance } from "./sender-policy.js";
import { recentMailboxLogin } from "../directory/mailbox-logins.js";
import type { Authenticator } from "../directory/auth.js";
import { SASL_MECHANISMS } from "../directory/sasl.js";
import { SmtpAuthExchange, type AuthOutcome } from "./auth.js";
import type { UserRecord } from "../store/interfaces.js";
import { parseAddressList } from "../sendmail/message.js";
import { DataReceiver } from "./data-receiver.js";
import { formatReply, reply, type Reply } from "./reply.js";

export interface SmtpContext {
  config: Config;
  auth: Authenticator;
  /** Clients that may authenticate without TLS (auth.plaintext_networks). */
  plaintextNetworks: NetworkList;
  /** Submission listeners (587, 465): MAIL only after AUTH. */
  requireAuth: boolean;
  log: Logger;
  stores: Stores;
  resolver: RecipientResolver;
  dns: DnsResolver;
  acceptor: Acceptor;
  relayNetworks: NetworkList;
  /** relay.domains: backup MX domains (accepted from anyone, forwarded). */
  relayDomains: RelayDomains;
  /** Makes the queued mail for a domain due now (ETRN); the number of recipients. */
  flushDomain: (domain: string) => Promise<number>;
  secureContext: tls.SecureContext;
  /** Listener name for logs ("smtp"). */
  listener: string;
}

interface Transaction {
  queueId: string;
  sender: string;
  params: EsmtpParams;
  recipients: { address: string; orcpt?: string; notify?: string[]; destinations: Destination[] }[];
}

const MAX_BUFFERED_INPUT = 1024 * 1024;

export class SmtpSession {
  readonly id = randomBytes(6).toString("hex");
  private socket: net.Socket;
  /** Bytes received and not yet processed, in arrival order (no copying while a message streams in). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private busy = false;
  private closed = false;
  private helo: string | undefined;
  private extended = false;
  private tlsInfo: { version: string; cipher: string } | undefined;
  private tx: Transaction | undefined;
  private data: { receiver: DataReceiver; blob: BlobWriter | undefined; failed: boolean } | undefined;
  private errors = 0;
  private user: UserRecord | undefined;
  private exchange: SmtpAuthExchange | undefined;
  /** The rest of an over-long line is dropped up to its LF, never run as a command. */
  private skipToNewline = false;
  private readonly clientAddress: string;
  private clientName: Promise<string | undefined>;
  private readonly log: Logger;

  constructor(private readonly ctx: SmtpContext, socket: net.Socket) {
    this.socket = socket;
    this.clientAddress = unmapIPv4(socket.remoteAddress ?? "unknown");
    this.log = ctx.log.child({ sid: this.id });
    this.clientName = ctx.dns.verifiedPtr(this.clientAddress).catch(() => undefined);
    if (socket instanceof tls.TLSSocket) this.tlsInfo = describeTls(socket);
  }

  start(): void {
    this.log.info({ client: this.clientAddress, listener: this.ctx.listener, tls: this.tlsInfo?.version }, "connect");
    this.attach(this.socket);
    this.write(reply(220, undefined, `${this.ctx.config.hostname} ESMTP Petrel`));
  }

  private attach(socket: net.Socket): void {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => this.log.debug({ err: err.message }, "socket error"));
    socket.on("close", () => this.onClose());
    socket.setTimeout(this.ctx.config.smtp.command_timeout, () => this.timeout());
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > MAX_BUFFERED_INPUT) this.socket.pause();
    if (!this.busy) void this.pump();
  }

  private takeChunk(): Buffer {
    const chunk = this.chunks.shift()!;
    this.buffered -= chunk.length;
    return chunk;
  }

  private unshiftInput(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.unshift(chunk);
    this.buffered += chunk.length;
  }

  private discardInput(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  /** Works through buffered input one command (or data chunk) at a time; replies go out corked together. */
  private async pump(): Promise<void> {
    this.busy = true;
    this.socket.cork();
    try {
      while (!this.closed && this.buffered > 0) {
        if (this.data) {
          await this.onDataChunk(this.takeChunk());
          continue;
        }
        if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
        const input = this.chunks[0];
        const nl = input.indexOf(0x0a);
        if (this.skipToNewline) {
          this.takeChunk();
          if (nl === -1) break;
          this.unshiftInput(input.subarray(nl + 1));
          this.skipToNewline = false;
          continue;
        }
        if (nl === -1) {
          if (input.length > this.ctx.config.smtp.max_line_length) {
            this.discardInput();
            this.skipToNewline = true;
            this.fail(reply(500, "5.5.2", "Line too long"));
          }
          break;
        }
        const raw = input.subarray(0, nl + 1);
        this.takeChunk();
        this.unshiftInput(input.subarray(nl + 1));
        if (raw.length > this.ctx.config.smtp.max_line_length) {
          this.fail(reply(500, "5.5.2", "Line too long"));
          continue;
        }
        await this.command(raw.toString("utf8").replace(/\r?\n$/, ""));
      }
    } catch (err) {
      this.log.error({ err: (err as Error).stack }, "session error");
      this.write(reply(421, "4.3.0", `${this.ctx.config.hostname} Error: internal error, closing connection`));
      this.close();
    } finally {
      this.busy = false;
      if (!this.closed) {
        this.socket.uncork();
        if (this.socket.isPaused() && this.buffered < MAX_BUFFERED_INPUT) this.socket.resume();
      }
    }
  }

  private write(r: Reply): void {
    if (!this.closed && this.socket.writable) this.socket.write(formatReply(r));
  }

  /** A refused command: counts toward max_errors, which ends the session. */
  private fail(r: Reply): void {
    this.write(r);
    if (++this.errors >= this.ctx.config.smtp.max_errors) {
      this.log.warn({ client: this.clientAddress, errors: this.errors }, "too many errors");
      this.write(reply(421, "4.7.0", `${this.ctx.config.hostname} Error: too many errors`));
      this.close();
    }
  }

  private async command(line: string): Promise<void> {
    if (this.exchange) return this.authStep(await this.exchange.respond(line));
    const cmd = parseCommandLine(line);
    if (!cmd) return this.fail(reply(500, "5.5.2", "Error: command not recognized"));
    switch (cmd.verb) {
      case "EHLO":
      case "HELO":
        return this.heloCommand(cmd.verb, cmd.arg);
      case "MAIL":
        return this.mailCommand(cmd.arg);
      case "RCPT":
        return this.rcptCommand(cmd.arg);
      case "DATA":
        return this.dataCommand(cmd.arg);
      case "RSET":
        if (cmd.arg) return this.fail(reply(501, "5.5.4", "Syntax: RSET"));
        this.resetTransaction("rset");
        return this.write(reply(250, "2.0.0", "Ok"));
      case "NOOP":
        return this.write(reply(250, "2.0.0", "Ok"));
      case "QUIT":
        this.write(reply(221, "2.0.0", "Bye"));
        return this.close();
      case "HELP":
        return this.write(reply(214, "2.0.0", ["Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY STARTTLS AUTH ETRN", "See RFC 5321"]));
      case "VRFY":
      case "EXPN":
        // RFC 5321 §3.5.3: 252 says neither yes nor no, so addresses cannot be harvested.
        if (!cmd.arg) return this.fail(reply(501, "5.5.4", `Syntax: ${cmd.verb} address`));
        return this.write(reply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery"));
      case "STARTTLS":
        return this.startTls(cmd.arg);
      case "AUTH":
        return this.authCommand(cmd.arg);
      case "ETRN":
        return this.etrnCommand(cmd.arg);
      case "BDAT":
        return this.fail(reply(502, "5.5.1", "Error: command not implemented"));
      default:
        if (/^(GET|POST|HEAD|PUT|CONNECT)$/.test(cmd.verb)) {
          this.write(reply(421, "4.7.0", `${this.ctx.config.hostname} Error: this is an SMTP server`));
          return this.close();
        }
        return this.fail(reply(502, "5.5.2", "Error: command not recognized"));
    }
  }

  private heloCommand(verb: string, arg: string): void {
    const parsed = parseHeloName(arg);
    if (!parsed.ok) return this.fail(reply(501, "5.5.4", parsed.message));
    this.resetTransaction("helo");
    this.helo = parsed.name;
    this.extended = verb === "EHLO";
    const { hostname, smtp } = this.ctx.config;
    if (!this.extended) return this.write(reply(250, undefined, hostname));
    const lines = [hostname, "PIPELINING", `SIZE ${smtp.max_message_size}`, "ETRN", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"];
    if (!this.tlsInfo) lines.push("STARTTLS");
    if (this.authAllowed()) lines.push(`AUTH ${SASL_MECHANISMS.join(" ")}`);
    lines.push("HELP");
    this.write(reply(250, undefined, lines));
  }

  private async mailCommand(arg: string): Promise<void> {
    if (!this.helo) return this.fail(reply(503, "5.5.1", "Error: send HELO/EHLO first"));
    if (this.tx) return this.fail(reply(503, "5.5.1", "Error: nested MAIL command"));
    if (this.ctx.requireAuth && !this.user) return this.fail(reply(530, "5.7.0", "Authentication required"));
    const parsed = parseMailFrom(arg);
    if (!parsed.ok) return this.fail(reply(parsed.code, parsed.enhanced, parsed.message));
    const { sender, params } = parsed.value;
    const unknown = Object.keys(params.other);
    // AUTH= (RFC 4954 §5) is accepted and not trusted: the session's own AUTH decides.
    // RET and ENVID (RFC 3461 §4.3, §4.4) are kept with the message for its notices.
    if (unknown.length > 0 || params.body === "BINARYMIME") {
      const name = unknown[0] ?? "BODY=BINARYMIME";
      return this.fail(reply(555, "5.5.4", `Unsupported option: ${name}`));
    }
    if (params.smtputf8 && !this.extended) return this.fail(reply(555, "5.5.4", "SMTPUTF8 requires EHLO"));
    const utf8Error = checkSmtpUtf8(sender, params.smtputf8 === true);
    if (utf8Error) return this.fail(reply(utf8Error.code, utf8Error.enhanced, utf8Error.message));
    const max = this.ctx.config.smtp.max_message_size;
    if (params.size !== undefined && params.size > max) {
      return this.fail(reply(552, "5.3.4", `Message size exceeds fixed limit of ${max} bytes`));
    }
    if (this.user && sender && !(await ownsAddress(this.ctx.stores.directory, this.user, sender.address))) {
      this.log.info({ user: this.user.address, from: sender.address }, "sender not owned");
      return this.fail(reply(553, "5.7.1", `<${sender.address}>: Sender address rejected: not owned by user ${this.user.address}`));
    }
    this.tx = { queueId: newQueueId(), sender: sender?.address ?? "", params, recipients: [] };
    this.log.info({ qid: this.tx.queueId, client: this.clientAddress, helo: this.helo, from: this.tx.sender, size: params.size }, "mail from");
    this.write(reply(250, "2.1.0", "Ok"));
  }

  private async rcptCommand(arg: string): Promise<void> {
    const tx = this.tx;
    if (!tx) return this.fail(reply(503, "5.5.1", "Error: need MAIL command"));
    const parsed = parseRcptTo(arg);
    if (!parsed.ok) return this.fail(reply(parsed.code, parsed.enhanced, parsed.message));
    const { recipient, params } = parsed.value;
    const unknown = Object.keys(params.other);
    if (unknown.length > 0) return this.fail(reply(555, "5.5.4", `Unsupported option: ${unknown[0]}`));
    const utf8Error = checkSmtpUtf8(recipient, tx.params.smtputf8 === true);
    if (utf8Error) return this.fail(reply(utf8Error.code, utf8Error.enhanced, utf8Error.message));
    if (tx.recipients.length >= this.ctx.config.smtp.max_recipients) {
      // RFC 5321 §4.5.3.1.10: 452 makes the client send the rest in another transaction.
      return this.write(reply(452, "4.5.3", "Error: too many recipients"));
    }
    const verdict = await checkRecipient(
      { directory: this.ctx.stores.directory, resolver: this.ctx.resolver, relayDomains: this.ctx.relayDomains },
      recipient,
      {
        trustedNetwork: this.ctx.relayNetworks.contains(this.clientAddress) ||
          (await recentMailboxLogin(this.ctx.stores.counters, this.clientAddress, this.ctx.config.relay.smtp_after_pop)),
        authenticated: this.user !== undefined,
      },
      tx.params.size ?? 0,
    );
    if (!verdict.ok) {
      this.log.info({ qid: tx.queueId, to: recipient.address, client: this.clientAddress, reply: verdict.reply.code }, "recipient rejected");
      return this.fail(verdict.reply);
    }
    tx.recipients.push({ address: verdict.address, orcpt: params.orcpt, notify: params.notify, destinations: verdict.destinations });
    this.write(reply(250, "2.1.5", "Ok"));
  }

  private async dataCommand(arg: string): Promise<void> {
    const tx = this.tx;
    if (arg) return this.fail(reply(501, "5.5.4", "Syntax: DATA"));
    if (!tx) return this.fail(reply(503, "5.5.1", "Error: need MAIL command"));
    if (tx.recipients.length === 0) return this.fail(reply(554, "5.5.1", "Error: no valid recipients"));
    const { smtp } = this.ctx.config;
    const blob = await this.ctx.stores.blobs.create(tx.queueId);
    const state = { blob: blob as BlobWriter | undefined, failed: false, receiver: undefined as unknown as DataReceiver };
    state.receiver = new DataReceiver({ maxSize: smtp.max_message_size }, async (chunk) => {
      if (state.failed || !state.blob) return;
      try {
        await state.blob.write(chunk);
      } catch (err) {
        state.failed = true;
        this.log.error({ qid: tx.queueId, err: (err as Error).message }, "cannot write message");
      }
    });
    this.data = state;
    this.socket.setTimeout(smtp.data_timeout);
    this.write(reply(354, undefined, "End data with <CR><LF>.<CR><LF>"));
  }

  private async onDataChunk(chunk: Buffer): Promise<void> {
    const data = this.data!;
    const result = await data.receiver.push(chunk);
    if (!result) return;
    this.data = undefined;
    this.socket.setTimeout(this.ctx.config.smtp.command_timeout);
    this.unshiftInput(result.rest);
    const tx = this.tx!;
    this.tx = undefined;
    const refuse = async (r: Reply, why: string) => {
      await data.blob?.abort();
      this.log.info({ qid: tx.queueId, reply: r.code, why, size: result.size }, "message refused");
      this.fail(r);
    };
    const { smtp, hostname } = this.ctx.config;
    if (data.failed) return refuse(reply(451, "4.3.0", "Error: local problem while storing, try again later"), "storage");
    if (result.tooBig) return refuse(reply(552, "5.3.4", `Message size exceeds fixed limit of ${smtp.max_message_size} bytes`), "size");
    if (result.longestLine > smtp.max_data_line_length) {
      return refuse(reply(500, "5.5.2", `Line too long (${result.longestLine} octets; the limit is ${smtp.max_data_line_length})`), "line length");
    }
    if (result.receivedHeaders > smtp.max_received_headers) {
      return refuse(reply(554, "5.4.6", `Too many hops (${result.receivedHeaders} Received headers): mail loop?`), "loop");
    }
    if (this.user) {
      if (!result.headerComplete) return refuse(reply(552, "5.3.4", "Message header too large to check"), "header size");
      const fromFields = headerFields(result.header, "from").map((value) => parseAddressList(value));
      if (fromFields.some((addresses) => addresses.length === 0)) {
        return refuse(reply(553, "5.7.1", "From: header has no address that can be checked"), "from header");
      }
      const from = fromFields.flat();
      const owned = await Promise.all(from.map((a) => ownsAddress(this.ctx.stores.directory, this.user!, a)));
      if (owned.some((ok) => !ok)) return refuse(reply(553, "5.7.1", `From: header address not owned by user ${this.user.address}`), "from header");
      const limits = this.ctx.config.submission;
      const allowed = await takeSendingAllowance(this.ctx.stores.counters, this.user, tx.recipients.length, {
        messagesPerHour: limits.max_messages_per_hour, recipientsPerHour: limits.max_recipients_per_hour,
      });
      if (!allowed) return refuse(reply(451, "4.7.1", "Sending limit reached for this hour, try again later"), "rate limit");
    }
    const blob = await data.blob!.finish();
    const recipients = uniqueRecipients(tx.recipients);
    const trace = receivedHeader({
      helo: this.helo,
      clientAddress: this.clientAddress,
      clientName: await this.clientName,
      protocol: protocolName({ extended: this.extended, tls: !!this.tlsInfo, auth: this.user !== undefined, utf8: tx.params.smtputf8 === true }),
      tls: this.tlsInfo,
      hostname,
      queueId: tx.queueId,
      recipient: tx.recipients.length === 1 ? tx.recipients[0].address : undefined,
      date: new Date(),
    });
    try {
      await this.ctx.acceptor.accept({
        id: tx.queueId,
        sender: tx.sender,
        blobId: blob.id,
        size: blob.size,
        receivedAt: Date.now(),
        trace,
        origin: JSON.stringify({
          sid: this.id, client: this.clientAddress, helo: this.helo, listener: this.ctx.listener, user: this.user?.address,
          body: tx.params.body, smtputf8: tx.params.smtputf8 === true, eightBit: result.eightBit, utf8Header: !isAscii(Buffer.from(result.header, "latin1")),
        }),
        envId: tx.params.envid ?? null,
        ret: tx.params.ret ?? null,
        recipients,
      });
    } catch (err) {
      // The record may have been committed before the failure (e.g. a failed
      // fsync): the blob stays; the start-up sweep removes it if nothing refers to it.
      this.log.error({ qid: tx.queueId, err: (err as Error).message }, "cannot queue message");
      return this.write(reply(451, "4.3.0", "Error: queue file write error, try again later"));
    }
    this.write(reply(250, "2.0.0", `Ok: queued as ${tx.queueId}`));
  }

  /**
   * ETRN (RFC 1985): a relay.networks client asks for the mail queued for one
   * of the relay domains (a primary back online) to be sent now.
   */
  private async etrnCommand(arg: string): Promise<void> {
    if (!this.helo) return this.fail(reply(503, "5.5.1", "Error: send HELO/EHLO first"));
    if (this.tx) return this.fail(reply(503, "5.5.1", "Error: MAIL transaction in progress"));
    const node = arg.replace(/^@/, "").toLowerCase();
    if (!node || !/^[a-z0-9.-]+$/.test(node)) return this.fail(reply(501, "5.5.4", "Syntax: ETRN domain"));
    if (!this.ctx.relayNetworks.contains(this.clientAddress)) {
      return this.fail(reply(459, "4.7.1", `<${node}>: Node not allowed: client not in relay.networks`));
    }
    if (!this.ctx.relayDomains.has(node)) return this.fail(reply(459, "4.7.1", `<${node}>: Node not allowed: not a relay domain`));
    const waiting = await this.ctx.flushDomain(node);
    this.log.info({ client: this.clientAddress, domain: node, recipients: waiting }, "etrn");
    if (waiting === 0) return this.write(reply(251, "2.0.0", `OK, no messages waiting for node ${node}`));
    this.write(reply(253, "2.0.0", `OK, ${waiting} pending messages for node ${node} started`));
  }

  /** AUTH is offered over TLS, or without it only to auth.plaintext_networks (RFC 4954 §4, RFC 8314). */
  private authAllowed(): boolean {
    return this.tlsInfo !== undefined || this.ctx.plaintextNetworks.contains(this.clientAddress);
  }

  private async authCommand(arg: string): Promise<void> {
    if (!this.extended) return this.fail(reply(503, "5.5.1", "Error: send EHLO first"));
    if (this.user) return this.fail(reply(503, "5.5.1", "Error: already authenticated"));
    if (this.tx) return this.fail(reply(503, "5.5.1", "Error: MAIL transaction in progress"));
    if (!this.authAllowed()) return this.fail(reply(538, "5.7.11", "Encryption required for requested authentication mechanism"));
    this.exchange = new SmtpAuthExchange(this.ctx.auth, this.clientAddress);
    await this.authStep(await this.exchange.start(arg));
  }

  private async authStep(outcome: AuthOutcome): Promise<void> {
    if (outcome.kind === "continue") return this.write(outcome.reply);
    this.exchange = undefined;
    if (outcome.kind === "failed") return this.fail(outcome.reply);
    this.user = outcome.user;
    this.log.info({ user: outcome.user.address, client: this.clientAddress }, "authenticated");
    this.write(outcome.reply);
  }

  private startTls(arg: string): void {
    if (arg) return this.fail(reply(501, "5.5.4", "Syntax: STARTTLS"));
    if (this.tlsInfo) return this.fail(reply(503, "5.5.1", "Error: TLS already active"));
    if (!this.extended) return this.fail(reply(503, "5.5.1", "Error: send EHLO first"));
    this.write(reply(220, "2.0.0", "Ready to start TLS"));
    this.discardInput(); // anything pipelined after STARTTLS is discarded (RFC 3207 §4.2)
    const secure = upgradeToTls(this.socket, this.ctx.secureContext);
    this.socket = secure;
    this.busy = true; // nothing is read until the handshake is done
    secure.once("secure", () => {
      this.tlsInfo = describeTls(secure);
      this.log.info({ tls: this.tlsInfo.version, cipher: this.tlsInfo.cipher }, "starttls");
      this.resetTransaction("starttls");
      this.user = undefined;
      this.helo = undefined;
      this.extended = false;
      this.busy = false;
      if (this.buffered > 0) void this.pump();
    });
    this.attach(secure);
  }

  private resetTransaction(why: string): void {
    if (this.tx) this.log.debug({ qid: this.tx.queueId, why }, "transaction reset");
    this.tx = undefined;
  }

  private timeout(): void {
    this.log.info({ client: this.clientAddress, in_data: !!this.data }, "timeout");
    this.write(reply(421, "4.4.2", `${this.ctx.config.hostname} Error: timeout exceeded`));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.uncork();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private onClose(): void {
    if (this.data) void this.data.blob?.abort();
    this.data = undefined;
    this.closed = true;
    this.log.info({ client: this.clientAddress }, "disconnect");
    this.onClosed?.();
  }

  onClosed: (() => void) | undefined;
}

/** One queue recipient per final mailbox and per remote address, whatever aliases led there. */
/**
 * One queue recipient per final destination. ORCPT is the client's when it
 * gave one, else the RCPT address when an alias changed it (RFC 3461 §4.2).
 */
function uniqueRecipients(recipients: Transaction["recipients"]): { address: string; orcpt?: string | null; notify?: string | null }[] {
  const seen = new Map<string, { address: string; orcpt?: string | null; notify?: string | null }>();
  for (const r of recipients) {
    for (const d of r.destinations) {
      const key = d.kind === "mailbox" ? `user:${d.user.id}` : `remote:${d.address}`;
      const orcpt = r.orcpt ?? (r.address === d.address ? null : `rfc822;${r.address}`);
      if (!seen.has(key)) seen.set(key, { address: d.address, orcpt, notify: r.notify ? r.notify.join(",") : null });
    }
  }
  return [...seen.values()];
}

/** The unfolded values of every header field called `name` in a header block. */
function headerFields(header: string, name: string): string[] {
  const pattern = new RegExp(`^${name}[ \\t]*:(.*(?:\\r\\n[ \\t].*)*)`, "gim");
  return [...header.matchAll(pattern)].map((m) => m[1].replace(/\r\n/g, ""));
}
