// Getting a new password without it ever appearing in argv: the first line
// of standard input with --password-stdin, or a prompt without echo when
// standard input is a terminal.
import { readFirstLine, UsageError } from "./args.js";

export async function obtainPassword(fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) password = await readFirstLine();
  else if (process.stdin.isTTY) password = await promptHidden("Password: ");
  else throw new UsageError("no password given: pass it on standard input with --password-stdin");
  if (password.length === 0) throw new UsageError("the password is empty");
  if (password.length > 1024) throw new UsageError("the password is longer than 1024 characters");
  return password;
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let text = "";
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off("data", onData);
          process.stderr.write("\n");
          return resolve(text);
        }
        if (ch === "\u0003") process.exit(130);
        if (ch === "\u007f") text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on("data", onData);
  });
}
