// The file-system BlobStore: each message body is one immutable file under
// data_dir/blobs/<first 5 characters of the id>/<id>, written once, fsynced
// before finish() resolves; sync() fsyncs the directories that gained
// entries, so that many sessions' messages share those fsyncs (group
// commit). Ids start with the time (queue/queue-id.ts), so the messages of
// one quarter of an hour share a directory and a batch needs one fsync. Trusted with paths:
// ids are checked against a strict pattern, so no id reaches outside the tree.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { BlobStore, BlobWriter } from "../interfaces.js";
import { newQueueId } from "../../queue/queue-id.js";

const ID_PATTERN = /^[0-9A-Za-z]{6,64}$/;
const WRITE_BUFFER = 256 * 1024;
const SYNC_READ_LIMIT = 64 * 1024;

export class FsBlobStore implements BlobStore {
  private readonly dirtyDirs = new Set<string>();
  private readonly knownDirs = new Set<string>();

  constructor(private readonly root: string) {
    fs.mkdirSync(root, { recursive: true });
  }

  private pathOf(id: string): string {
    if (!ID_PATTERN.test(id)) throw new Error(`invalid blob id ${JSON.stringify(id)}`);
    return path.join(this.root, id.slice(0, 5), id);
  }

  async create(id: string = newQueueId()): Promise<BlobWriter> {
    const file = this.pathOf(id);
    const dir = path.dirname(file);
    if (!this.knownDirs.has(dir)) {
      await fsp.mkdir(dir, { recursive: true });
      this.dirtyDirs.add(this.root); // the new directory's own entry
      this.knownDirs.add(dir);
    }
    const handle = await fsp.open(file, "wx", 0o600);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let size = 0;
    let closed = false;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await handle.write(chunk, 0, chunk.length);
    };
    const store = this;
    return {
      id,
      async write(chunk: Buffer) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        size += chunk.length;
        if (pendingBytes >= WRITE_BUFFER) await flush();
      },
      async finish() {
        try {
          await flush();
          await handle.sync();
        } catch (err) {
          await handle.close().catch(() => {});
          closed = true;
          throw err;
        }
        await handle.close();
        closed = true;
        store.dirtyDirs.add(dir);
        return { id, size };
      },
      async abort() {
        if (!closed) await handle.close().catch(() => {});
        closed = true;
        await fsp.rm(file, { force: true });
      },
    };
  }

  read(id: string, start = 0, end?: number): Readable {
    const file = this.pathOf(id);
    if (end !== undefined && end <= start) return Readable.from([]);
    return fs.createReadStream(file, { start, end: end === undefined ? undefined : end - 1, highWaterMark: 256 * 1024 });
  }

  async readAll(id: string, size?: number): Promise<Buffer> {
    if (size === undefined) return fsp.readFile(this.pathOf(id));
    if (size <= SYNC_READ_LIMIT) return this.readSmall(id, size);
    // open, one read, close: a thread-pool round trip fewer than readFile's stat.
    const handle = await fsp.open(this.pathOf(id), "r");
    try {
      const buffer = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const { bytesRead } = await handle.read(buffer, read, size - read, read);
        if (bytesRead === 0) throw new Error(`blob ${id} is shorter than ${size} bytes`);
        read += bytesRead;
      }
      return buffer;
    } finally {
      await handle.close();
    }
  }

  /**
   * Small blobs are read synchronously: from the page cache that is a few
   * microseconds of system calls, far less than three thread-pool round trips
   * (measured with bench/pop3-load.ts).
   */
  private readSmall(id: string, size: number): Buffer {
    const fd = fs.openSync(this.pathOf(id), "r");
    try {
      const buffer = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const n = fs.readSync(fd, buffer, read, size - read, read);
        if (n === 0) throw new Error(`blob ${id} is shorter than ${size} bytes`);
        read += n;
      }
      return buffer;
    } finally {
      fs.closeSync(fd);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await fsp.unlink(this.pathOf(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  async *list(): AsyncIterable<{ id: string; modifiedAt: number }> {
    for (const dir of await fsp.readdir(this.root)) {
      let names: string[];
      try {
        names = await fsp.readdir(path.join(this.root, dir));
      } catch {
        continue;
      }
      for (const name of names) {
        if (!ID_PATTERN.test(name)) continue;
        const stat = await fsp.stat(path.join(this.root, dir, name)).catch(() => undefined);
        if (stat?.isFile()) yield { id: name, modifiedAt: stat.mtimeMs };
      }
    }
  }

  async sync(): Promise<void> {
    const dirs = [...this.dirtyDirs];
    this.dirtyDirs.clear();
    try {
      await this.syncDirs(dirs);
    } catch (err) {
      for (const dir of dirs) this.dirtyDirs.add(dir); // the next batch tries them again
      throw err;
    }
  }

  private async syncDirs(dirs: string[]): Promise<void> {
    await Promise.all(
      dirs.map(async (dir) => {
        const handle = await fsp.open(dir, "r");
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }),
    );
  }
}
