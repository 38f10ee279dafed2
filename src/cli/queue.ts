// `petrel queue`: the mailq / postqueue / postsuper of Petrel. Lists what
// waits, shows one message, makes waiting mail due now (flush), holds and
// releases, and deletes. Changes take effect in a running server at its next
// scheduler pass (within a second).
import { formatSize } from "../config/units.js";
import { QUEUE_ID_PATTERN } from "../queue/queue-id.js";
import type { QueuedMessage } from "../store/interfaces.js";
import { UsageError, type ParsedArgs } from "./args.js";
import { printRows, type CliContext } from "./context.js";

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** The state of a message: the least advanced of its recipients. */
function messageState(m: QueuedMessage): string {
  const order = ["active", "incoming", "deferred", "hold", "failed", "done"];
  return m.recipients.map((r) => r.state).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0] ?? "done";
}

function summary(m: QueuedMessage) {
  const waiting = m.recipients.filter((r) => r.state !== "done");
  return {
    id: m.id,
    age: age(Date.now() - m.receivedAt),
    size: formatSize(m.size),
    sender: m.sender || "<>",
    recipients: waiting.map((r) => r.address),
    state: messageState(m),
    last_error: waiting.find((r) => r.lastError)?.lastError ?? null,
  };
}

export async function queueVerb(ctx: CliContext, args: ParsedArgs): Promise<void> {
  const [action, id, ...extra] = args.positional;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const queue = ctx.stores().queue;
  const needId = async (): Promise<QueuedMessage> => {
    if (!id || !QUEUE_ID_PATTERN.test(id)) throw new UsageError(`usage: petrel queue ${action} ID`);
    const message = await queue.getMessage(id);
    if (!message) throw new UsageError(`no message ${id} in the queue`);
    return message;
  };
  switch (action) {
    case "list": {
      const rows = (await queue.listMessages()).map(summary);
      if (!ctx.json && rows.length === 0) return ctx.out("queue is empty");
      return printRows(ctx, rows, ["id", "age", "size", "sender", "recipients", "state", "last_error"]);
    }
    case "show": {
      const m = await needId();
      if (ctx.json) return ctx.out(JSON.stringify({ ...m, origin: JSON.parse(m.origin) }, null, 2));
      ctx.out(`id:        ${m.id}\nreceived:  ${new Date(m.receivedAt).toISOString()} (${age(Date.now() - m.receivedAt)} ago)\nsize:      ${m.size}\nsender:    ${m.sender || "<>"}\norigin:    ${m.origin}${m.envId || m.ret ? `\ndsn:       envid=${m.envId ?? "-"} ret=${m.ret ?? "-"}` : ""}`);
      for (const r of m.recipients) {
        const next = r.state === "deferred" ? ` next ${new Date(r.nextAttempt).toISOString()}` : "";
        const via = r.remoteMta ? ` via ${r.remoteMta}` : "";
        const owed = r.notice ? ` [${r.notice} notice owed]` : "";
        const dsn = [r.notify ? `notify=${r.notify}` : "", r.orcpt ? `orcpt=${r.orcpt}` : ""].filter(Boolean).join(" ");
        ctx.out(`recipient: ${r.address} ${r.state} attempts=${r.attempts}${next}${dsn ? ` ${dsn}` : ""}${r.lastError ? ` (${r.lastError})${via}` : ""}${owed}`);
      }
      ctx.out(`--\n${m.trace.replace(/\r\n$/, "").replace(/\r\n/g, "\n")}\n--\n${(await ctx.stores().blobs.readAll(m.blobId)).toString("utf8").replace(/\r\n/g, "\n")}`);
      return;
    }
    case "flush": {
      if (id?.includes(".")) {
        // A domain (as ETRN): its waiting recipients, e.g. a relay domain whose primary is back.
        if (!/^[A-Za-z0-9.-]+$/.test(id)) throw new UsageError("usage: petrel queue flush [ID|DOMAIN]");
        return ctx.out(`${await queue.flushDomain(id)} recipient(s) at ${id.toLowerCase()} made due now`);
      }
      if (id) await needId();
      const n = await queue.flush(id);
      return ctx.out(`${n} recipient(s) made due now`);
    }
    case "hold": {
      const m = await needId();
      return ctx.out(`${m.id}: ${await queue.hold(m.id)} recipient(s) on hold`);
    }
    case "release": {
      const m = await needId();
      return ctx.out(`${m.id}: ${await queue.release(m.id)} recipient(s) released`);
    }
    case "delete": {
      const m = await needId();
      for (const blob of await queue.purge(m.id, { force: true })) await ctx.stores().blobs.remove(blob);
      return ctx.out(`${m.id}: deleted`);
    }
    default:
      throw new UsageError("usage: petrel queue list | show ID | flush [ID|DOMAIN] | delete ID | hold ID | release ID");
  }
}
