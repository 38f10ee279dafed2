// petrel.toml → the router's and the SMTP client's settings: which names and
// addresses are this server (for loop detection, RFC 5321 §5.1), and the
// smarthost with its TLS mode and AUTH secret (read from its file at start,
// never kept in the config). Trusted with the smarthost password.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import type { Config } from "../config/schema.js";
import { splitHostPort } from "../config/schema.js";
import type { RouterOptions } from "./router.js";
import type { OutboundOptions } from "./delivery.js";

/** Every address of this machine's interfaces. */
function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, "")));
}

export function routerOptions(config: Config): RouterOptions {
  const smtp = config.listen.smtp ? splitHostPort(config.listen.smtp) : undefined;
  const ours = new Set<string>();
  if (smtp && smtp.port === config.delivery.remote_port) {
    const wildcard = smtp.host === "0.0.0.0" || smtp.host === "::";
    for (const address of wildcard ? localAddresses() : [smtp.host]) ours.add(address.toLowerCase());
  }
  const smarthost = config.relay.smarthost ? splitHostPort(config.relay.smarthost) : undefined;
  return {
    selfNames: [config.hostname.toLowerCase().replace(/\.$/, "")],
    isSelfAddress: (address) => ours.has(address.toLowerCase()) || (net.isIPv4(address) && ours.has(`::ffff:${address}`)),
    addressPreference: config.delivery.address_preference,
    smarthost,
    relayDomains: config.relay.domains.map((d) => d.toLowerCase()),
  };
}

export function outboundOptions(config: Config): OutboundOptions {
  const relay = config.relay;
  const smarthost = relay.smarthost ? splitHostPort(relay.smarthost) : undefined;
  const options: OutboundOptions = {
    helo: config.hostname,
    port: smarthost?.port ?? config.delivery.remote_port,
    sourceAddress: config.delivery.source_address,
    connectTimeout: config.delivery.connect_timeout,
    maxConnections: config.delivery.max_connections,
    maxPerDestination: config.delivery.max_connections_per_destination,
    maxMessagesPerConnection: config.delivery.max_messages_per_connection,
  };
  if (smarthost) {
    const password = relay.smarthost_password_file
      ? fs.readFileSync(relay.smarthost_password_file, "utf8").split(/\r?\n/)[0]
      : undefined;
    options.smarthost = {
      tls: relay.smarthost_tls ?? (smarthost.port === 465 ? "implicit" : "starttls"),
      auth: relay.smarthost_username && password !== undefined ? { username: relay.smarthost_username, password } : undefined,
      ca: relay.smarthost_ca_file ? fs.readFileSync(relay.smarthost_ca_file) : undefined,
    };
  }
  return options;
}
