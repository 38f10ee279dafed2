// `petrel sendmail`: the sendmail(8) interface for cron, mailx and scripts.
// The message goes straight into the durable queue (like Postfix's
// postdrop), so it works with or without a running server; the Received
// line names the local user id that submitted it. Exit codes follow
// sysexits(3): 64 usage, 65 bad input, 67 unknown user, 75 try again.
import os from "node:os";
import { RecipientResolver } from "../directory/resolve.js";
import { createLogger } from "../log/logger.js";
import { submitLocal } from "../queue/submit.js";
import { parseSendmailArgs } from "../sendmail/args.js";
import { prepareLocalSubmission, readSendmailInput } from "../sendmail/message.js";
import { readAll } from "./args.js";
import { createContext } from "./context.js";

export async function sendmailVerb(argv: string[]): Promise<number> {
  // --config is Petrel's own option; everything else is sendmail's.
  let configFile: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--config") configFile = argv[++i];
    else if (argv[i].startsWith("--config=")) configFile = argv[i].slice("--config=".length);
    else rest.push(argv[i]);
  }
  const parsed = parseSendmailArgs(rest);
  if (!parsed.ok) {
    process.stderr.write(`petrel sendmail: ${parsed.error}\n`);
    return 64;
  }
  const opts = parsed.value;
  const ctx = createContext(configFile, false);
  try {
    const stores = ctx.stores();
    const { hostname } = ctx.config;
    const domains = await stores.directory.listDomains();
    const origin = domains.includes(hostname) ? hostname : (domains[0] ?? hostname);
    const qualify = (address: string) => (address === "" || address.includes("@") ? address : `${address}@${origin}`);
    const user = os.userInfo().username;
    const sender = qualify(opts.sender ?? user);
    const input = readSendmailInput(await readAll(), opts.ignoreDots);
    const prepared = prepareLocalSubmission(input, {
      envelopeSender: sender, fullName: opts.fullName, hostname: origin, now: new Date(),
      extractRecipients: opts.extractRecipients, messageIdDomain: hostname,
    });
    const recipients = [...opts.recipients, ...prepared.recipients].map(qualify);
    if (recipients.length === 0) {
      process.stderr.write("petrel sendmail: no recipients given (name them as arguments, or use -t)\n");
      return 64;
    }
    if (prepared.message.length > ctx.config.smtp.max_message_size) {
      process.stderr.write(`petrel sendmail: message larger than smtp.max_message_size (${ctx.config.smtp.max_message_size} bytes)\n`);
      return 65;
    }
    const log = createLogger("warn", process.stderr).child({ via: "sendmail" });
    const result = await submitLocal(stores, new RecipientResolver(stores.directory), log, {
      sender, recipients, message: prepared.message, uid: process.getuid?.() ?? -1, hostname, user,
    });
    if (!result.ok) {
      for (const r of result.rejected) process.stderr.write(`petrel sendmail: ${r.address || "(none)"}... ${r.reason}\n`);
      return result.rejected.some((r) => r.reason === "user unknown") ? 67 : 65;
    }
    return 0;
  } catch (err) {
    process.stderr.write(`petrel sendmail: ${(err as Error).message}; the message was not queued\n`);
    return 75;
  } finally {
    await ctx.close();
  }
}
