/**
 * The largest MQTT packet, enforced on the raw socket. aedes' parser (mqtt-packet) has no bound:
 * it keeps appending to a buffer list until the whole "remaining length" has arrived, so one
 * 40 MB PUBLISH is 40 MB of RSS, and eight at once took a gateway to 610 MB. The fixed header
 * says the length up front (MQTT 3.1.1 §2.2.3, 1–4 bytes), so this watcher walks the packet
 * boundaries of the byte stream and calls `onTooLarge` as soon as a header announces more than
 * `maxPacketSize` — the connection is closed then, holding at most one socket read of the payload.
 *
 * It sees the bytes aedes reads, in order: a 'data' listener on a socket in paused ('readable')
 * mode is called by each `read()` before the caller gets the chunk.
 */
export class FrameGuard {
  /** Bytes of the current packet's body still to skip. */
  private skip = 0;
  /** The fixed header read so far (type byte + length bytes), while it is incomplete. */
  private header: number[] = [];
  private tripped = false;

  constructor(
    private readonly maxPacketSize: number,
    private readonly onTooLarge: (announced: number) => void,
  ) {}

  /** Feeds one chunk; false once a packet was too large (the rest is not looked at). */
  push(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length && !this.tripped) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.header.push(chunk[i] as number);
      i += 1;
      const length = remainingLength(this.header);
      if (length === undefined) continue;
      // The whole packet: the fixed header's own bytes count too.
      const total = length + this.header.length;
      this.header = [];
      if (length < 0 || total > this.maxPacketSize) {
        this.tripped = true;
        this.onTooLarge(length < 0 ? Number.NaN : total);
        return false;
      }
      this.skip = length;
    }
    return !this.tripped;
  }
}

/**
 * The remaining length of a fixed header (`bytes[0]` the type, then the variable-length
 * integer), undefined while more bytes are needed, -1 when malformed (a fifth length byte).
 */
export function remainingLength(bytes: readonly number[]): number | undefined {
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i < bytes.length; i++) {
    if (i > 4) return -1;
    const b = bytes[i] as number;
    value += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) return value;
    multiplier *= 128;
  }
  return undefined;
}
