// The `petrel` command: finds the verb, reads global options (--config,
// --json), runs it, and turns every failure into one line on stderr and a
// non-zero exit status (shared/OPERATOR.md).
import { createRequire } from "node:module";
import { ConfigError } from "../config/load.js";
import { parseArgs, UsageError } from "./args.js";
import { createContext } from "./context.js";
import { aliasVerb, domainVerb, userVerb } from "./directory.js";
import { serveVerb } from "./serve.js";

const USAGE = `usage: petrel VERB [options] [--config FILE] [--json]
  serve                                   run every configured listener
  domain add|remove|list [DOMAIN]
  user add ADDRESS [--password-stdin] [--quota SIZE]
  user passwd ADDRESS --password-stdin
  user quota ADDRESS --quota SIZE
  user remove|list [ADDRESS]
  alias add SOURCE TARGET [TARGET...]     SOURCE may be @domain (catch-all)
  alias remove|list [SOURCE]
  queue list | show ID | flush [ID] | delete ID | hold ID | release ID
  sendmail [-t] [-i] [-oi] [-f SENDER] [-F NAME] [RECIPIENT...]
  export ADDRESS [--mailbox NAME]         mailbox as mboxrd on stdout
  import ADDRESS [--mailbox NAME]         append an mbox read from stdin
  version`;

type Verb = (argv: string[]) => Promise<number>;

export function version(): string {
  const require = createRequire(import.meta.url);
  return (require("../../../package.json") as { version: string }).version;
}

/** Verbs registered by other modules (queue, sendmail, export/import). */
export const extraVerbs = new Map<string, Verb>();

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    switch (verb) {
      case "version":
      case "--version":
        process.stdout.write(`petrel ${version()}\n`);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(`${USAGE}\n`);
        return verb === undefined ? 64 : 0;
      case "serve":
      case "domain":
      case "user":
      case "alias": {
        const args = parseArgs(rest, ["config", "quota"], ["json", "password-stdin"]);
        const ctx = createContext(args.options.get("config"), args.flags.has("json"));
        try {
          if (verb === "serve") return await serveVerb(ctx);
          await { domain: domainVerb, user: userVerb, alias: aliasVerb }[verb](ctx, args);
          return 0;
        } finally {
          await ctx.close();
        }
      }
      default: {
        const extra = extraVerbs.get(verb);
        if (extra) return await extra(rest);
        throw new UsageError(`unknown verb "${verb}"; "petrel help" lists them`);
      }
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
