// Finds and loads petrel.toml: --config FILE, then $PETREL_CONFIG, then
// ./petrel.toml, then the built-in defaults. Every error names the key and the
// file, and nothing starts on a config that did not validate.
import fs from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { configSchema, type Config } from "./schema.js";

export class ConfigError extends Error {}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or undefined for the built-in defaults. */
  file: string | undefined;
}

export function findConfigFile(explicit: string | undefined): string | undefined {
  if (explicit) return explicit;
  if (process.env.PETREL_CONFIG) return process.env.PETREL_CONFIG;
  return fs.existsSync("petrel.toml") ? "petrel.toml" : undefined;
}

export function loadConfig(explicit?: string): LoadedConfig {
  const file = findConfigFile(explicit);
  if (file === undefined) return { config: validate({}, "built-in defaults"), file };
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the configuration: ${(err as Error).message}`);
  }
  return { config: parseConfigText(text, file), file: path.resolve(file) };
}

export function parseConfigText(text: string, file: string): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    const message = (err as Error).message.split("\n")[0];
    throw new ConfigError(`${file}: not valid TOML: ${message}`);
  }
  return validate(raw, file);
}

function validate(raw: unknown, file: string): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const prefix = issue.path.length ? `${issue.path.join(".")}.` : "";
      return `unknown key ${issue.keys.map((k) => `"${prefix}${k}"`).join(", ")}`;
    }
    const key = issue.path.join(".") || "(top level)";
    return `key "${key}": ${issue.message}`;
  });
  throw new ConfigError(`${file}: ${lines.join("; ")}`);
}
