// `petrel serve`: runs every configured listener in one process until
// SIGTERM or SIGINT, then stops accepting, lets sessions finish briefly,
// flushes and exits 0. The signal handlers are installed before anything
// starts, so a signal during start-up also ends in a clean stop.
import { createLogger } from "../log/logger.js";
import { startServer, type RunningServer } from "../server.js";
import type { CliContext } from "./context.js";

export async function serveVerb(ctx: CliContext): Promise<number> {
  const log = createLogger(ctx.config.log.level);
  let signalled: string | undefined;
  let onSignal: (signal: string) => void = (signal) => {
    signalled ??= signal;
  };
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  log.info({ config: ctx.configFile ?? "built-in defaults", pid: process.pid }, "starting");
  let server: RunningServer;
  try {
    server = await startServer(ctx.config, log);
  } catch (err) {
    log.error({ err: (err as Error).message }, "cannot start");
    process.stderr.write(`petrel: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal) => {
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
    if (signalled) onSignal(signalled);
  });
}
