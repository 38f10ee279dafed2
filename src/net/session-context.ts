// What a mailbox-access session (POP3, IMAP) is given by the server: the
// configuration, log, stores, the shared login throttle, who may send
// passwords without TLS, the TLS context for STARTTLS, and its listener name.
import type tls from "node:tls";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import type { Stores } from "../store/interfaces.js";
import type { Authenticator } from "../directory/auth.js";
import type { NetworkList } from "./cidr.js";

export interface MailAccessContext {
  config: Config;
  log: Logger;
  stores: Stores;
  auth: Authenticator;
  plaintextNetworks: NetworkList;
  secureContext: tls.SecureContext;
  listener: string;
}
