// `petrel export` and `petrel import`: a mailbox as mboxrd on stdout, and an
// mbox (the format of /var/spool/mail/USER) from stdin appended to a
// mailbox, so admins can migrate and back up. Flags travel as Status and
// X-Status headers; the internal date as the From_ line's date.
import { normalizeAddress } from "../directory/address.js";
import { Mailstore, type NewMessage } from "../mailstore/mailstore.js";
import { encodeMboxrdMessage, readMbox } from "../mbox/mboxrd.js";
import { UsageError, type ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";

const IMPORT_BATCH = 200;

async function target(ctx: CliContext, args: ParsedArgs) {
  const [addressText, ...extra] = args.positional;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const address = addressText === undefined ? undefined : normalizeAddress(addressText);
  if (!address) throw new UsageError("usage: petrel export|import ADDRESS [--mailbox NAME]");
  const stores = ctx.stores();
  const user = await stores.directory.getUser(address);
  if (!user) throw new UsageError(`no user ${address}`);
  const name = args.options.get("mailbox") ?? "INBOX";
  const mailstore = new Mailstore(stores);
  const mailbox = await mailstore.mailbox(user.id, name);
  if (!mailbox) throw new UsageError(`${address} has no mailbox "${name}"`);
  return { stores, mailstore, mailbox };
}

export async function exportVerb(ctx: CliContext, args: ParsedArgs): Promise<void> {
  const { stores, mailstore, mailbox } = await target(ctx, args);
  for (const message of await stores.mailboxes.listMessages(mailbox.id)) {
    const data = await mailstore.read(message);
    const sender = /^Return-Path:[ \t]*<([^>\r\n]*)>/i.exec(data.subarray(0, 1024).toString("latin1"))?.[1] ?? "";
    const chunk = encodeMboxrdMessage(data, sender, new Date(message.internalDate), message.flags);
    if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once("drain", resolve));
  }
}

export async function importVerb(ctx: CliContext, args: ParsedArgs): Promise<void> {
  const { mailstore, mailbox } = await target(ctx, args);
  let batch: NewMessage[] = [];
  let count = 0;
  const flush = async () => {
    await mailstore.append(mailbox, batch);
    count += batch.length;
    batch = [];
  };
  for await (const m of readMbox(process.stdin as AsyncIterable<Buffer>, { maxMessageSize: ctx.config.smtp.max_message_size })) {
    batch.push({ data: m.data, flags: m.flags, internalDate: m.date?.getTime() ?? Date.now() });
    if (batch.length >= IMPORT_BATCH) await flush();
  }
  if (batch.length) await flush();
  process.stderr.write(`imported ${count} message(s) into ${mailbox.name}\n`);
}
