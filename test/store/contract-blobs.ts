// Storage contract, BlobStore role: chunked writes, whole and ranged reads,
// abort, remove, sync, caller-chosen ids, and refusal of ids that could reach
// outside the store (path traversal).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { assertRefused, freshId, freshStores, putBlob, streamToBuffer, type OpenStores } from "./contract-helpers.js";

/** 700 KiB of varied bytes: larger than any sensible write buffer. */
const BIG = Buffer.from(Array.from({ length: 700 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));

export function blobContract(open: OpenStores): void {
  describe("blobs", () => {
    const stores = freshStores(open);

    it("writes in several chunks and reads the whole blob back", async () => {
      const writer = await stores().blobs.create();
      assert.match(writer.id, /^[0-9A-Za-z]+$/);
      for (let at = 0; at < BIG.length; at += 100_000) await writer.write(BIG.subarray(at, at + 100_000));
      const done = await writer.finish();
      assert.deepEqual(done, { id: writer.id, size: BIG.length });
      assert.ok((await stores().blobs.readAll(writer.id)).equals(BIG));
      assert.ok((await streamToBuffer(stores().blobs.read(writer.id))).equals(BIG));
    });

    it("reads byte ranges [start, end)", async () => {
      const { id } = await putBlob(stores(), BIG, 7);
      const blobs = stores().blobs;
      assert.ok((await streamToBuffer(blobs.read(id, 0, 10))).equals(BIG.subarray(0, 10)));
      assert.ok((await streamToBuffer(blobs.read(id, 5, 6))).equals(BIG.subarray(5, 6)));
      assert.ok((await streamToBuffer(blobs.read(id, 300_000, 500_001))).equals(BIG.subarray(300_000, 500_001)));
      assert.ok((await streamToBuffer(blobs.read(id, 1000))).equals(BIG.subarray(1000)), "start only: to the end");
      assert.ok((await streamToBuffer(blobs.read(id, BIG.length - 3, BIG.length))).equals(BIG.subarray(BIG.length - 3)));
    });

    it("reads an empty range [n, n) as no bytes", async () => {
      const { id } = await putBlob(stores(), "0123456789");
      assert.equal((await streamToBuffer(stores().blobs.read(id, 4, 4))).length, 0);
      assert.equal((await streamToBuffer(stores().blobs.read(id, 0, 0))).length, 0);
    });

    it("stores an empty blob", async () => {
      const writer = await stores().blobs.create();
      assert.deepEqual(await writer.finish(), { id: writer.id, size: 0 });
      assert.equal((await stores().blobs.readAll(writer.id)).length, 0);
    });

    it("gives fresh blobs distinct ids", async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) ids.add((await putBlob(stores(), `blob ${i}`)).id);
      assert.equal(ids.size, 20);
    });

    it("creates a blob with a given id", async () => {
      const id = freshId("Given");
      const done = await putBlob(stores(), "chosen id\r\n", 2, id);
      assert.deepEqual(done, { id, size: 11 });
      assert.equal((await stores().blobs.readAll(id)).toString(), "chosen id\r\n");
    });

    it("refuses to create a blob whose id exists, keeping the original", async () => {
      const { id } = await putBlob(stores(), "original");
      await assertRefused("create(existing id)", () => stores().blobs.create(id));
      assert.equal((await stores().blobs.readAll(id)).toString(), "original");
    });

    it("leaves nothing readable after abort, and the id can be used again", async () => {
      const id = freshId("Aborted");
      const writer = await stores().blobs.create(id);
      await writer.write(Buffer.from("half a message"));
      await writer.abort();
      await assertRefused("readAll(aborted)", () => stores().blobs.readAll(id));
      await assertRefused("read(aborted)", () => stores().blobs.read(id));
      await putBlob(stores(), "second try", 1, id);
      assert.equal((await stores().blobs.readAll(id)).toString(), "second try");
    });

    it("removes a blob; removing a missing blob is not an error", async () => {
      const { id } = await putBlob(stores(), "to be removed");
      const other = await putBlob(stores(), "to be kept");
      await stores().blobs.remove(id);
      await assertRefused("readAll(removed)", () => stores().blobs.readAll(id));
      await assertRefused("read(removed)", () => stores().blobs.read(id));
      await stores().blobs.remove(id);
      await stores().blobs.remove(freshId("Never"));
      assert.equal((await stores().blobs.readAll(other.id)).toString(), "to be kept");
    });

    it("reading a blob that never existed fails", async () => {
      await assertRefused("readAll(unknown)", () => stores().blobs.readAll(freshId("Unknown")));
      await assertRefused("read(unknown)", () => stores().blobs.read(freshId("Unknown")));
    });

    it("sync resolves, with and without finished blobs", async () => {
      await stores().blobs.sync();
      await putBlob(stores(), "one");
      await putBlob(stores(), "two");
      await stores().blobs.sync();
      await stores().blobs.sync();
    });

    it("refuses ids that are not plain letters and digits", async () => {
      const bad = ["../x", "a/b", "abcdef/ghijkl", "..", ".", "", "abc def", "abcdef\0", "/etc/passwd", "abcdef\\ghijkl", "abc.def"];
      for (const id of bad) {
        const label = JSON.stringify(id);
        await assertRefused(`create(${label})`, () => stores().blobs.create(id));
        await assertRefused(`read(${label})`, () => stores().blobs.read(id));
        await assertRefused(`readAll(${label})`, () => stores().blobs.readAll(id));
        await assertRefused(`remove(${label})`, () => stores().blobs.remove(id));
      }
    });

    it("never touches paths outside the store through an id", async () => {
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-contract-outside-"));
      try {
        const sentinel = path.join(outside, "sentinel");
        fs.writeFileSync(sentinel, "keep me");
        // Enough "../" to climb from any store root to "/", then down to the sentinel.
        const escape = (file: string) => "../".repeat(40) + file.replace(/^\/+/, "");
        await assertRefused("remove(escape)", () => stores().blobs.remove(escape(sentinel)));
        await assertRefused("readAll(escape)", () => stores().blobs.readAll(escape(sentinel)));
        await assertRefused("create(escape)", () => stores().blobs.create(escape(path.join(outside, "created"))));
        assert.equal(fs.readFileSync(sentinel, "utf8"), "keep me");
        assert.deepEqual(fs.readdirSync(outside), ["sentinel"]);
      } finally {
        fs.rmSync(outside, { recursive: true, force: true });
      }
    });
  });
}
