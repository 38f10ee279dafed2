// Fuzz tests send a payload cut at random points, so the server sees a
// command split anywhere: this writes the pieces in order, each after the
// previous one was flushed. Resolves false when the socket closed first.
import type net from "node:net";

export async function writeInPieces(socket: net.Socket, payload: Buffer, cuts: number[]): Promise<boolean> {
  const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, payload.length]) {
    if (point <= start) continue;
    if (socket.destroyed) return false;
    await new Promise<void>((done) => socket.write(payload.subarray(start, point), () => done()));
    start = point;
  }
  return true;
}
