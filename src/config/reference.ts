// Generates the configuration reference (a Markdown table) and a sample
// petrel.toml from the schema itself, so the docs cannot drift from the code:
// a test compares README.md with this output.
import { configSchema } from "./schema.js";

interface KeyDoc {
  key: string;
  type: string;
  default: string;
  doc: string;
}

type AnySchema = { _zod: { def: Record<string, unknown> & { type: string } }; description?: string };

function unwrap(schema: AnySchema): { base: AnySchema; doc?: string; def?: unknown; optional: boolean } {
  let doc = schema.description;
  let def: unknown;
  let optional = false;
  let s = schema;
  for (;;) {
    const d = s._zod.def;
    if (d.type === "default" || d.type === "prefault") def ??= d.defaultValue;
    else if (d.type === "optional") optional = true;
    else if (d.type !== "pipe") break;
    s = (d.type === "pipe" ? d.in : d.innerType) as AnySchema;
    doc ??= s.description;
  }
  return { base: s, doc, def, optional };
}

function typeName(base: AnySchema): string {
  const d = base._zod.def;
  if (d.type === "array") return `array of ${typeName(d.element as AnySchema)}`;
  if (d.type === "enum") return Object.values(d.entries as Record<string, string>).map((v) => `"${v}"`).join(" | ");
  return d.type;
}

/** Defaults that are computed at start rather than fixed. */
const COMPUTED: Record<string, string> = { hostname: "the machine's hostname" };

function collect(schema: AnySchema, prefix: string, out: KeyDoc[], tableDefault?: Record<string, unknown>): void {
  const { base, doc, def: ownDefault, optional } = unwrap(schema);
  const shape = base._zod.def.shape as Record<string, AnySchema> | undefined;
  if (base._zod.def.type === "object" && shape) {
    if (prefix) out.push({ key: `[${prefix}]`, type: "table", default: optional ? "absent" : "", doc: doc ?? "" });
    const defaults = ownDefault && typeof ownDefault === "object" && Object.keys(ownDefault).length ? (ownDefault as Record<string, unknown>) : undefined;
    for (const [name, child] of Object.entries(shape)) collect(child, prefix ? `${prefix}.${name}` : name, out, defaults?.[name] === undefined ? undefined : { [name]: defaults[name] });
    return;
  }
  const name = prefix.split(".").pop() ?? prefix;
  const def = tableDefault?.[name] ?? ownDefault;
  const shown = COMPUTED[prefix] ?? (def === undefined ? (optional ? "unset" : "") : JSON.stringify(def));
  out.push({ key: prefix, type: typeName(base), default: shown, doc: doc ?? "" });
}

export function configKeys(): KeyDoc[] {
  const out: KeyDoc[] = [];
  collect(configSchema as unknown as AnySchema, "", out);
  return out;
}

export function configReference(): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  const rows = configKeys().map((k) => `| \`${k.key}\` | ${cell(k.type)} | ${k.default ? `\`${cell(k.default)}\`` : ""} | ${cell(k.doc)} |`);
  return ["| key | type | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
