// One `petrel serve` process: opens the stores, starts the queue scheduler
// and every configured listener (SMTP, IMAP, POP3), and stops them in order. Listeners whose
// protocol is not built yet are reported and skipped, never faked.
import type { Config } from "./config/schema.js";
import type { Logger } from "./log/logger.js";
import { openStores } from "./store/open.js";
import { RecipientResolver } from "./directory/resolve.js";
import { DnsResolver } from "./dns/resolver.js";
import { Acceptor } from "./queue/accept.js";
import { DEFAULT_SCHEDULER, QueueScheduler } from "./queue/scheduler.js";
import { Notifier } from "./queue/notices.js";
import { OutboundDelivery } from "./outbound/delivery.js";
import { Router } from "./outbound/router.js";
import { outboundOptions, routerOptions } from "./outbound/settings.js";
import { sweepOrphanBlobs } from "./queue/sweep.js";
import { LocalDelivery } from "./delivery/local.js";
import { NetworkList } from "./net/cidr.js";
import { createSecureContext, loadTlsMaterial, tlsOptions } from "./net/tls.js";
import { listen, type Listener } from "./net/listener.js";
import fs from "node:fs";
import type { Socket } from "node:net";
import { claimDataDir } from "./net/pidfile.js";
import { SmtpSession } from "./smtp/session.js";
import { RelayDomains } from "./smtp/relay-domains.js";
import { Pop3Session } from "./pop3/session.js";
import { ImapSession } from "./imap/session.js";
import { Authenticator } from "./directory/auth.js";

interface ListenerSpec {
  limits: { max_connections: number; max_connections_per_ip: number };
  implicitTls?: boolean;
  tooMany: (perAddress: boolean) => string;
  session: (socket: Socket, listener: string) => { start(): void; onClosed: (() => void) | undefined };
}

export interface RunningServer {
  listeners: Listener[];
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  fs.mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const releaseDataDir = claimDataDir(config.data_dir);
  const stores = openStores(config.data_dir, { asyncFsync: true });
  const resolver = new RecipientResolver(stores.directory);
  const dns = new DnsResolver(config.dns.servers, config.dns.timeout);
  const acceptor = new Acceptor(stores, log);
  const notifier = new Notifier(stores, { hostname: config.hostname, bounceSizeLimit: config.queue.bounce_size_limit, maxAge: config.queue.max_age }, log);
  const outbound = new OutboundDelivery(new Router(dns, routerOptions(config)), stores.blobs, outboundOptions(config), log);
  const scheduler = new QueueScheduler(stores, new LocalDelivery(stores, resolver, log), outbound, notifier, {
    schedule: config.queue.retry_schedule, maxAge: config.queue.max_age, delayWarning: config.queue.delay_warning,
  }, log, { ...DEFAULT_SCHEDULER, maxActive: config.queue.max_active });
  acceptor.onAccepted(() => scheduler.kick());
  notifier.onQueued(() => scheduler.kick());
  const tlsMaterial = await loadTlsMaterial(config);
  const secureContext = createSecureContext(tlsMaterial);
  log.info({ source: tlsMaterial.source }, "tls certificate");
  const relayNetworks = new NetworkList(config.relay.networks);
  const relayDomains = new RelayDomains(config.relay.domains, config.relay.recipients);
  const flushDomain = async (domain: string) => {
    const waiting = await stores.queue.flushDomain(domain);
    scheduler.kick();
    return waiting;
  };

  const auth = new Authenticator(stores.directory, stores.counters, {
    failureDelayMs: config.auth.failure_delay, maxFailures: config.auth.max_failures, windowMs: config.auth.failure_window,
    cacheMs: config.auth.cache_ttl,
  }, log, config.relay.smtp_after_pop);
  const plaintextNetworks = new NetworkList(config.auth.plaintext_networks);
  const smtpContext = { config, log, stores, resolver, dns, acceptor, relayNetworks, relayDomains, flushDomain, secureContext, auth, plaintextNetworks };
  const pop3Context = { config, log, stores, auth, plaintextNetworks, secureContext };
  const imapContext = { config, log, stores, auth, plaintextNetworks, secureContext, userSessions: new Map<number, number>() };
  const stale = await stores.counters.releaseAll("pop3-maildrop:");
  if (stale > 0) log.warn({ locks: stale }, "released POP3 maildrop locks left by a crash");

  const smtpTooMany = (perAddress: boolean) =>
    perAddress
      ? `421 4.7.0 ${config.hostname} Error: too many connections from your address\r\n`
      : `421 4.3.2 ${config.hostname} Error: too many connections, try again later\r\n`;
  /** What each listener name speaks: its session, limits and "go away" line. */
  const protocols: Record<string, ListenerSpec | undefined> = {
    smtp: {
      limits: config.smtp,
      tooMany: smtpTooMany,
      session: (socket, listener) => new SmtpSession({ ...smtpContext, listener, requireAuth: false }, socket),
    },
    submission: {
      limits: config.smtp,
      tooMany: smtpTooMany,
      session: (socket, listener) => new SmtpSession({ ...smtpContext, listener, requireAuth: true }, socket),
    },
    submissions: {
      limits: config.smtp,
      implicitTls: true,
      tooMany: smtpTooMany,
      session: (socket, listener) => new SmtpSession({ ...smtpContext, listener, requireAuth: true }, socket),
    },
    pop3: {
      limits: config.pop3,
      tooMany: () => "-ERR [SYS/TEMP] Too many connections, try again later\r\n",
      session: (socket, listener) => new Pop3Session({ ...pop3Context, listener }, socket),
    },
    imap: {
      limits: config.imap,
      tooMany: () => "* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
      session: (socket, listener) => new ImapSession({ ...imapContext, listener }, socket),
    },
    imaps: {
      limits: config.imap,
      implicitTls: true,
      tooMany: () => "* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
      session: (socket, listener) => new ImapSession({ ...imapContext, listener }, socket),
    },
    pop3s: {
      limits: config.pop3,
      implicitTls: true,
      tooMany: () => "-ERR [SYS/TEMP] Too many connections, try again later\r\n",
      session: (socket, listener) => new Pop3Session({ ...pop3Context, listener }, socket),
    },
  };

  const listeners: Listener[] = [];
  for (const [name, address] of Object.entries(config.listen)) {
    if (!address) continue;
    const spec = protocols[name];
    if (!spec) {
      log.warn({ listener: name, address }, "listener not started: this protocol is not implemented yet");
      continue;
    }
    const listener = await listen({
      name,
      address,
      implicitTls: spec.implicitTls ? tlsOptions(tlsMaterial) : undefined,
      maxConnections: spec.limits.max_connections,
      maxPerAddress: spec.limits.max_connections_per_ip,
      tooMany: spec.tooMany,
      onConnection: (socket, done) => {
        const session = spec.session(socket, name);
        session.onClosed = done;
        session.start();
      },
    });
    listeners.push(listener);
    log.info({ listener: name, address: listener.bound }, "listening");
  }
  await scheduler.start();
  void sweepOrphanBlobs(stores, log).catch((err: Error) => log.error({ err: err.message }, "orphan sweep failed"));
  log.info({ hostname: config.hostname, data_dir: config.data_dir }, "ready");

  return {
    listeners,
    async stop() {
      log.info({}, "stopping");
      await Promise.all(listeners.map((l) => l.close()));
      outbound.close();
      await scheduler.stop();
      dns.cancel();
      await stores.close();
      releaseDataDir();
      log.info({}, "stopped");
    },
  };
}
