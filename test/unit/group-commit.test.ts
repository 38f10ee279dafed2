// Group commit: concurrent submissions share flushes, results go back to
// the right caller, and one failing item fails alone.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { GroupCommit } from "../../src/queue/group-commit.js";

describe("GroupCommit", () => {
  it("batches what arrives together and returns each caller its own result", async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      return items.map((n) => n * 2);
    });
    const results = await Promise.all([1, 2, 3, 4].map((n) => gc.submit(n)));
    assert.deepEqual(results, [2, 4, 6, 8]);
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
  });

  it("fails only the bad item of a failing batch", async () => {
    const gc = new GroupCommit<number, number>(async (items) => {
      if (items.includes(13)) throw new Error("unlucky");
      return items;
    });
    const settled = await Promise.allSettled([1, 13, 2].map((n) => gc.submit(n)));
    assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.equal((settled[1] as PromiseRejectedResult).reason.message, "unlucky");
  });
});
