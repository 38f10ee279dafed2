// Sizes ("25M", "2G", "512K", "1000") and durations ("30s", "10m", "5d", "250ms")
// as written in petrel.toml and on the command line. Pure functions, no I/O.

const SIZE_UNITS: Record<string, number> = { "": 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Bytes for "25M"; undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return undefined;
  const value = Math.round(Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()]);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Milliseconds for "30s"; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  if (!m) return undefined;
  const value = Math.round(Number(m[1]) * DURATION_UNITS[m[2]]);
  return Number.isSafeInteger(value) ? value : undefined;
}

export function formatSize(bytes: number): string {
  for (const [unit, factor] of [["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const) {
    if (bytes >= factor) return `${(bytes / factor).toFixed(bytes % factor === 0 ? 0 : 1)}${unit}`;
  }
  return `${bytes}`;
}
