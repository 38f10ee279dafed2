// What every `petrel` verb starts from: the configuration (--config, then
// $PETREL_CONFIG, then ./petrel.toml, then defaults), the stores on data_dir
// (shared with a running server), and output as a table or --json.
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { openStores } from "../store/open.js";
import type { Stores } from "../store/interfaces.js";

export interface CliContext {
  config: Config;
  configFile: string | undefined;
  json: boolean;
  stores(): Stores;
  out(text: string): void;
  close(): Promise<void>;
}

export function createContext(configFile: string | undefined, json: boolean): CliContext {
  const loaded = loadConfig(configFile);
  let stores: Stores | undefined;
  return {
    config: loaded.config,
    configFile: loaded.file,
    json,
    stores: () => (stores ??= openStores(loaded.config.data_dir)),
    out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    close: async () => {
      await stores?.close();
    },
  };
}

/** Rows as aligned columns for people, or as a JSON array with --json. */
export function printRows(ctx: CliContext, rows: Record<string, unknown>[], columns: string[]): void {
  if (ctx.json) return ctx.out(JSON.stringify(rows, null, 2));
  if (rows.length === 0) return;
  const cells = rows.map((r) => columns.map((c) => formatCell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]))).join("  ");
  ctx.out([line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n"));
}

function formatCell(value: unknown): string {
  if (value === undefined || value === null) return "-";
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}
