// Command-line parsing for `petrel sendmail`, compatible with the sendmail(8)
// options that cron, mailx, mutt, git send-email and shell scripts pass.
//
// Trusted with: argv of a local, possibly unprivileged user. Values end up
// in the envelope and in headers, so line breaks and NULs are refused here.
// Getopt rules as on Linux: options may be bundled (-ti), a value may be glued
// (-ffoo) or the next argument (-f foo), options and recipients may be mixed,
// and "--" ends the options.
import { parseAddressList } from "./message.js";

export interface SendmailOptions {
  /** -t: take the recipients from the To, Cc and Bcc headers. */
  extractRecipients: boolean;
  /** -i or -oi: a line with a single "." does not end the message. */
  ignoreDots: boolean;
  /** -f or -r: envelope sender ("" for the null sender "<>"). */
  sender?: string;
  /** -F: full name for a generated From: header. */
  fullName?: string;
  /** Bare addresses from the command line (comma-separated arguments split). */
  recipients: string[];
}

export type ParseResult = { ok: true; value: SendmailOptions } | { ok: false; error: string };

/** Options that take a value and are accepted but ignored. */
const IGNORED_WITH_VALUE = new Set(["N", "R", "V", "B", "X", "C", "h", "O", "L"]);
/** Options without a value that are accepted but ignored. */
const IGNORED_FLAGS = new Set(["v", "U", "n", "m", "G"]);

const MODES: Record<string, string> = {
  s: "SMTP on standard input (-bs) is not supported; connect to Petrel's submission port instead",
  d: "daemon mode (-bd) is not supported; run `petrel serve`",
  D: "daemon mode (-bD) is not supported; run `petrel serve`",
  p: "queue listing (-bp, mailq) is not supported; use `petrel queue`",
  i: "alias database rebuild (-bi, newaliases) is not needed: Petrel reads aliases directly",
  P: "printing the queue (-bP) is not supported; use `petrel queue`",
  t: "address test mode (-bt) is not supported",
  v: "address verification (-bv) is not supported",
  h: "host status (-bh/-bH) is not supported",
  H: "host status (-bh/-bH) is not supported",
};

/** Parses sendmail(8) arguments (without the program name). */
export function parseSendmailArgs(argv: string[]): ParseResult {
  const opts: SendmailOptions = { extractRecipients: false, ignoreDots: false, recipients: [] };
  const rawRecipients: string[] = [];
  let i = 0;
  const fail = (error: string): ParseResult => ({ ok: false, error });

  while (i < argv.length) {
    const arg = argv[i++]!;
    if (arg === "--") {
      rawRecipients.push(...argv.slice(i));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      rawRecipients.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      const rest = arg.slice(j + 1);
      // The value of a value-taking option is the rest of this argument or the next one.
      const takeValue = (): string | undefined => (rest !== "" ? rest : argv[i++]);

      if (letter === "t") opts.extractRecipients = true;
      else if (letter === "i") opts.ignoreDots = true;
      else if (IGNORED_FLAGS.has(letter)) continue;
      else if (letter === "f" || letter === "r" || letter === "F" || IGNORED_WITH_VALUE.has(letter)) {
        const value = takeValue();
        if (value === undefined) return fail(`option -${letter} requires an argument`);
        if (/[\r\n\0]/.test(value)) return fail(`option -${letter}: line breaks are not allowed`);
        if (letter === "F") opts.fullName = value;
        else if (letter === "f" || letter === "r") {
          const sender = envelopeSender(value);
          if (sender === undefined) return fail(`option -${letter}: "${value}" is not an address`);
          opts.sender = sender;
        }
        break;
      } else if (letter === "o") {
        const value = takeValue();
        if (value === undefined || value === "") return fail("option -o requires an argument");
        // -oi is -i; -od*, -oe*, -om and other sendmail.cf options are ignored.
        if (value === "i") opts.ignoreDots = true;
        break;
      } else if (letter === "b") {
        const mode = takeValue() ?? "";
        if (mode === "m") break;
        return fail(MODES[mode[0] ?? ""] ?? `mode -b${mode} is not supported (only -bm, the default)`);
      } else if (letter === "q") {
        return fail("queue runs (-q) are not supported; `petrel serve` retries the queue itself");
      } else if (letter === "A") {
        break; // -Ac / -Am: submission mode, meaningless here.
      } else {
        return fail(`unknown option -${letter}`);
      }
    }
  }

  for (const raw of rawRecipients) {
    if (/[\r\n\0]/.test(raw)) return fail("recipient addresses may not contain line breaks");
    const found = parseAddressList(raw);
    if (found.length === 0 && raw.trim() !== "" && raw.replace(/[\s,]/g, "") !== "") {
      return fail(`"${raw}" is not an address`);
    }
    opts.recipients.push(...found);
  }
  if (!opts.extractRecipients && opts.recipients.length === 0) {
    return fail("no recipients given (name them as arguments, or use -t to read them from the headers)");
  }
  return { ok: true, value: opts };
}

/** "<>" and "" are the null sender; "<a@b>" and "a@b" both give "a@b". */
function envelopeSender(value: string): string | undefined {
  const v = value.trim();
  if (v === "" || v === "<>") return "";
  const found = parseAddressList(v);
  return found.length === 1 ? found[0] : undefined;
}
