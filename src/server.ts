// One `petrel serve` process: opens the stores, starts the queue scheduler
// and every configured listener, and stops them in order. Listeners whose
// protocol is not built yet are reported and skipped, never faked.
import type { Config } from "./config/schema.js";
import type { Logger } from "./log/logger.js";
import { openStores } from "./store/open.js";
import { RecipientResolver } from "./directory/resolve.js";
import { DnsResolver } from "./dns/resolver.js";
import { Acceptor } from "./queue/accept.js";
import { QueueScheduler } from "./queue/scheduler.js";
import { sweepOrphanBlobs } from "./queue/sweep.js";
import { LocalDelivery } from "./delivery/local.js";
import { NetworkList } from "./net/cidr.js";
import { createSecureContext, loadTlsMaterial } from "./net/tls.js";
import { listen, type Listener } from "./net/listener.js";
import { SmtpSession } from "./smtp/session.js";

export interface RunningServer {
  listeners: Listener[];
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const stores = openStores(config.data_dir, { asyncFsync: true });
  const resolver = new RecipientResolver(stores.directory);
  const dns = new DnsResolver(config.dns.servers, config.dns.timeout);
  const acceptor = new Acceptor(stores, log);
  const scheduler = new QueueScheduler(stores, new LocalDelivery(stores, resolver, log), log);
  acceptor.onAccepted(() => scheduler.kick());
  const tlsMaterial = await loadTlsMaterial(config);
  const secureContext = createSecureContext(tlsMaterial);
  log.info({ source: tlsMaterial.source }, "tls certificate");
  const relayNetworks = new NetworkList(config.relay.networks);
  for (const key of ["smarthost", "domains"] as const) {
    const value = config.relay[key];
    if (value !== undefined && (!Array.isArray(value) || value.length > 0)) {
      log.warn({ key: `relay.${key}` }, "this key has no effect yet: outbound delivery is not implemented in this version");
    }
  }

  const listeners: Listener[] = [];
  const sessions = new Set<SmtpSession>();
  for (const [name, address] of Object.entries(config.listen)) {
    if (!address) continue;
    if (name !== "smtp") {
      log.warn({ listener: name, address }, "listener not started: this protocol is not implemented yet");
      continue;
    }
    const ctx = { config, log, stores, resolver, dns, acceptor, relayNetworks, secureContext, listener: name };
    const listener = await listen({
      name,
      address,
      maxConnections: config.smtp.max_connections,
      maxPerAddress: config.smtp.max_connections_per_ip,
      tooMany: (perAddress) =>
        perAddress
          ? `421 4.7.0 ${config.hostname} Error: too many connections from your address\r\n`
          : `421 4.3.2 ${config.hostname} Error: too many connections, try again later\r\n`,
      onConnection: (socket, done) => {
        const session = new SmtpSession(ctx, socket);
        sessions.add(session);
        session.onClosed = () => {
          sessions.delete(session);
          done();
        };
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
      await scheduler.stop();
      dns.cancel();
      await stores.close();
      log.info({}, "stopped");
    },
  };
}
