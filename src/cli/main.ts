// The `petrel` command: finds the verb, reads global options (--config,
// --json), runs it, and turns every failure into one line on stderr and a
// non-zero exit status (shared/OPERATOR.md).
import { createRequire } from "node:module";
import { ConfigError } from "../config/load.js";
import { parseArgs, UsageError } from "./args.js";
import { createContext } from "./context.js";
import { aliasVerb, domainVerb, userVerb } from "./directory.js";
import { queueVerb } from "./queue.js";
import { exportVerb, importVerb } from "./mbox.js";
import { sendmailVerb } from "./sendmail.js";
import { dnsVerb } from "./dns.js";
import { configReference } from "../config/reference.js";

const USAGE = `usage: petrel VERB [options] [--config FILE] [--json]
  serve                                   run every configured listener
  domain add|remove|list [DOMAIN]
  user add ADDRESS [--password-stdin] [--quota SIZE]
  user passwd ADDRESS --password-stdin
  user quota ADDRESS --quota SIZE
  user send-as ADDRESS own|any            which senders the user may use after AUTH
  user remove|list [ADDRESS]
  alias add SOURCE TARGET [TARGET...]     SOURCE may be @domain (catch-all)
  alias remove|list [SOURCE]
  queue list | show ID | flush [ID] | delete ID | hold ID | release ID
  sendmail [-t] [-i] [-oi] [-f SENDER] [-F NAME] [RECIPIENT...]
  export ADDRESS [--mailbox NAME]         mailbox as mboxrd on stdout
  import ADDRESS [--mailbox NAME]         append an mbox read from stdin
  config check                            validate the configuration and say where it came from
  config reference                        every configuration key, as a Markdown table
  dns check DOMAIN                        what remote MTAs see in DNS: MX, A/AAAA, reverse DNS, SPF, DMARC
  version`;

export function version(): string {
  const require = createRequire(import.meta.url);
  return (require("../../../package.json") as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    switch (verb) {
      case "version":
      case "--version":
        process.stdout.write(`petrel ${version()}\n`);
        return 0;
      case undefined:
        process.stderr.write(`petrel: no verb given; "petrel help" lists them\n`);
        return 64;
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(`${USAGE}\n`);
        return 0;
      case "sendmail":
        return await sendmailVerb(rest);
      case "dns":
        return await dnsVerb(rest);
      case "config": {
        const args = parseArgs(rest, ["config"], ["json"]);
        if (args.positional[0] === "reference") {
          process.stdout.write(`${configReference()}\n`);
          return 0;
        }
        if (args.positional[0] !== "check") throw new UsageError("usage: petrel config check|reference");
        const ctx = createContext(args.options.get("config"), args.flags.has("json"));
        process.stdout.write(`${ctx.configFile ?? "built-in defaults"}: ok\n`);
        return 0;
      }
      case "serve":
      case "domain":
      case "user":
      case "alias":
      case "queue":
      case "export":
      case "import": {
        const args = parseArgs(rest, ["config", "quota", "mailbox"], ["json", "password-stdin"]);
        const ctx = createContext(args.options.get("config"), args.flags.has("json"));
        try {
          // The server's code is loaded only to serve, so every other verb starts fast.
          if (verb === "serve") return await (await import("./serve.js")).serveVerb(ctx);
          const verbs = { domain: domainVerb, user: userVerb, alias: aliasVerb, queue: queueVerb, export: exportVerb, import: importVerb };
          await verbs[verb](ctx, args);
          return 0;
        } finally {
          await ctx.close();
        }
      }
      default:
        throw new UsageError(`unknown verb "${verb}"; "petrel help" lists them`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`petrel: ${err.message}\n`);
      return err instanceof ConfigError ? 78 : 64;
    }
    process.stderr.write(`petrel: ${(err as Error).message}\n`);
    return 1;
  }
}
