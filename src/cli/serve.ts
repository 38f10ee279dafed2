// `petrel serve`: runs every configured listener in one process until
// SIGTERM or SIGINT, then stops accepting, lets sessions finish briefly,
// flushes and exits 0.
import { createLogger } from "../log/logger.js";
import { startServer } from "../server.js";
import type { CliContext } from "./context.js";

export async function serveVerb(ctx: CliContext): Promise<number> {
  const log = createLogger(ctx.config.log.level);
  log.info({ config: ctx.configFile ?? "built-in defaults", pid: process.pid }, "starting");
  const server = await startServer(ctx.config, log);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "signal received");
      server.stop().then(
        () => resolve(0),
        (err) => {
          log.error({ err: (err as Error).message }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
