// POP3 command lines (RFC 1939 §3, RFC 2449 §3): a keyword of 3-4 letters,
// case-insensitive, and arguments separated by single spaces. PASS keeps its
// whole argument (a password may contain spaces). Pure; never throws.
export interface Pop3Command {
  /** Upper-cased keyword, "" for an empty line. */
  verb: string;
  /** Space-separated arguments. */
  args: string[];
  /** Everything after the first space, as sent. */
  rest: string;
}

export function parsePop3Command(line: string): Pop3Command {
  const space = line.indexOf(" ");
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? "" : line.slice(space + 1);
  return { verb, rest, args: rest.split(" ").filter((a) => a !== "") };
}
