// Local submission: a message handed over by a program on this machine
// (`petrel sendmail`), accepted straight into the durable queue like
// Postfix's postdrop — it works whether or not the server is running, and the
// server's scheduler delivers it. Local programs are trusted to send to any
// domain; unknown local recipients are refused before anything is queued.
import type { Stores } from "../store/interfaces.js";
import type { Logger } from "../log/logger.js";
import type { RecipientResolver, Destination } from "../directory/resolve.js";
import { normalizeAddress } from "../directory/address.js";
import { receivedHeader } from "../delivery/trace.js";
import { Acceptor } from "./accept.js";
import { newQueueId } from "./queue-id.js";
import { isAscii } from "node:buffer";

export interface LocalSubmission {
  sender: string;
  recipients: string[];
  message: Buffer;
  uid: number;
  hostname: string;
  /** Who ran the command, for the log. */
  user: string;
}

export type SubmitResult =
  | { ok: true; queueId: string }
  | { ok: false; rejected: { address: string; reason: string }[] };

export async function submitLocal(stores: Stores, resolver: RecipientResolver, log: Logger, s: LocalSubmission): Promise<SubmitResult> {
  const rejected: { address: string; reason: string }[] = [];
  const destinations = new Map<string, Destination & { original: string }>();
  for (const raw of s.recipients) {
    const address = normalizeAddress(raw);
    if (!address) {
      rejected.push({ address: raw, reason: "bad address syntax" });
      continue;
    }
    const resolution = await resolver.resolve(address);
    if (resolution.kind === "unknown") rejected.push({ address, reason: "user unknown" });
    else if (resolution.kind === "remote") destinations.set(`remote:${address}`, { kind: "remote", address, original: address });
    else for (const d of resolution.destinations) destinations.set(d.kind === "mailbox" ? `user:${d.user.id}` : `remote:${d.address}`, { ...d, original: address });
  }
  if (rejected.length > 0 || destinations.size === 0) {
    return { ok: false, rejected: rejected.length ? rejected : [{ address: "", reason: "no recipients" }] };
  }
  const queueId = newQueueId();
  const writer = await stores.blobs.create(queueId);
  await writer.write(s.message);
  const blob = await writer.finish();
  const recipients = [...destinations.values()];
  await new Acceptor(stores, log).accept({
    id: queueId,
    sender: s.sender,
    blobId: blob.id,
    size: blob.size,
    receivedAt: Date.now(),
    trace: receivedHeader({
      protocol: "local", hostname: s.hostname, queueId, localUid: s.uid, date: new Date(),
      recipient: recipients.length === 1 ? recipients[0].original : undefined,
    }),
    origin: JSON.stringify({ local: s.user, uid: s.uid, eightBit: !isAscii(s.message) }),
    recipients: recipients.map((d) => ({ address: d.address, orcpt: d.original === d.address ? null : `rfc822;${d.original}` })),
  });
  return { ok: true, queueId };
}
