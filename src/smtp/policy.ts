// The recipient decision at RCPT, in one place: local users and aliases are
// accepted, unknown local users refused (550 5.1.1), relay domains (backup MX)
// accepted from anyone for their valid recipients, other domains accepted
// only from clients allowed to relay (relay.networks, AUTH, SMTP after POP)
// and refused otherwise (554 5.7.1) — never an open relay. Address tricks (percent
// hack, bang paths, quoted "@") are never interpreted as routing: the parsed
// domain alone decides.
import type { Destination, RecipientResolver } from "../directory/resolve.js";
import { exceedsQuota } from "../directory/quota.js";
import type { DirectoryStore } from "../store/interfaces.js";
import type { Mailbox } from "./address.js";
import { reply, type Reply } from "./reply.js";
import type { RelayDomains } from "./relay-domains.js";

export type RcptVerdict = { ok: true; destinations: Destination[]; address: string } | { ok: false; reply: Reply };

export interface ClientStanding {
  /** The client's address is in relay.networks. */
  trustedNetwork: boolean;
  /** The client authenticated (SMTP AUTH). */
  authenticated: boolean;
}

export interface RecipientPolicy {
  directory: DirectoryStore;
  resolver: RecipientResolver;
  relayDomains: RelayDomains;
}

export async function checkRecipient(
  { directory, resolver, relayDomains }: RecipientPolicy,
  recipient: Mailbox,
  client: ClientStanding,
  messageSize: number,
): Promise<RcptVerdict> {
  let address = recipient.address.toLowerCase();
  if (recipient.domain === "") {
    // "RCPT TO:<Postmaster>" without a domain (RFC 5321 §4.1.1.3): our first domain's postmaster.
    const [first] = await directory.listDomains();
    if (!first) return { ok: false, reply: reply(550, "5.1.1", "<Postmaster>: no local domain is configured") };
    address = `postmaster@${first}`;
  }
  const resolution = await resolver.resolve(address);
  if (resolution.kind === "unknown") {
    return { ok: false, reply: reply(550, "5.1.1", `<${recipient.address}>: Recipient address rejected: User unknown`) };
  }
  if (resolution.kind === "remote") {
    const relay = relayDomains.check(address);
    if (relay === "unknown") {
      return { ok: false, reply: reply(550, "5.1.1", `<${recipient.address}>: Recipient address rejected: User unknown in relay recipient table`) };
    }
    if (relay === "relay") return { ok: true, address, destinations: [{ kind: "remote", address }] };
    if (!client.trustedNetwork && !client.authenticated) {
      return { ok: false, reply: reply(554, "5.7.1", `<${recipient.address}>: Relay access denied`) };
    }
    return { ok: true, address, destinations: [{ kind: "remote", address }] };
  }
  if (resolution.destinations.length === 0) {
    // e.g. an alias loop that reaches no mailbox: refusing beats accepting into nowhere
    return { ok: false, reply: reply(550, "5.1.1", `<${recipient.address}>: Recipient address rejected: alias reaches no mailbox`) };
  }
  for (const d of resolution.destinations) {
    if (d.kind === "mailbox" && exceedsQuota(d.user, messageSize)) {
      return { ok: false, reply: reply(452, "4.2.2", `<${recipient.address}>: Mailbox full, try again later`) };
    }
  }
  return { ok: true, address, destinations: resolution.destinations };
}
