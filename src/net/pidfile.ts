// One `petrel serve` per data_dir: two servers on one store would take each
// other's queue leases and deliver twice. data_dir/petrel.pid names the
// running server; a file left by a crashed one (its process is gone, or is
// not a petrel) is taken over. Written atomically (temp file + rename).
import fs from "node:fs";
import path from "node:path";

export class AlreadyRunning extends Error {}

function isPetrel(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("petrel");
  } catch {
    return true; // no /proc: trust that a live process with this pid is the server
  }
}

/** Claims the data dir for this process; returns the release function. */
export function claimDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, "petrel.pid");
  let existing: number | undefined;
  try {
    existing = Number(fs.readFileSync(file, "utf8").trim());
  } catch {
    existing = undefined;
  }
  if (existing && existing !== process.pid && isPetrel(existing)) {
    throw new AlreadyRunning(`another petrel serve (pid ${existing}) is running on ${dataDir}; stop it first`);
  }
  const temp = `${file}.${process.pid}`;
  fs.writeFileSync(temp, `${process.pid}\n`);
  fs.renameSync(temp, file);
  return () => {
    try {
      if (Number(fs.readFileSync(file, "utf8").trim()) === process.pid) fs.rmSync(file);
    } catch {
      // gone already
    }
  };
}
