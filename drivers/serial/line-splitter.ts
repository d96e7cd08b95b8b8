/**
 * Bytes → lines. Works on bytes (the delimiter may be several bytes, "\r\n"), decodes each
 * complete line, drops a trailing "\r" (so CRLF devices work with the default "\n") and skips
 * empty lines. A line longer than `maxLength` is not kept growing: it is counted as overlong and
 * everything up to the next delimiter is thrown away (a wrong baud rate produces exactly that).
 */
export interface SplitResult {
  lines: string[];
  /** Lines thrown away because they grew past maxLength. */
  overlong: number;
}

export class LineSplitter {
  private readonly delimiter: Buffer;
  private pending: Buffer = Buffer.alloc(0);
  /** Inside an overlong line: discard until the next delimiter. */
  private discarding = false;

  constructor(
    delimiter: string,
    private readonly maxLength: number,
    private readonly encoding: BufferEncoding = 'utf8',
  ) {
    this.delimiter = Buffer.from(delimiter, 'utf8');
  }

  push(chunk: Buffer): SplitResult {
    const out: SplitResult = { lines: [], overlong: 0 };
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const at = buf.indexOf(this.delimiter);
      if (at === -1) break;
      const line = buf.subarray(0, at);
      buf = buf.subarray(at + this.delimiter.length);
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      if (line.length > this.maxLength) {
        out.overlong += 1;
        continue;
      }
      const text = this.decode(line);
      if (text !== '') out.lines.push(text);
    }
    if (buf.length > this.maxLength) {
      if (!this.discarding) out.overlong += 1;
      this.discarding = true;
      // Keep the last bytes: the delimiter may be split across chunks.
      buf = buf.subarray(buf.length - (this.delimiter.length - 1));
    }
    // Copy, so the stream's (possibly large, pooled) chunk is not retained.
    this.pending = Buffer.from(buf);
    return out;
  }

  /** Forgets a partial line (before a poll's command, so a stale fragment is not glued to the reply). */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.discarding = false;
  }

  private decode(line: Buffer): string {
    const text = line.toString(this.encoding);
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }
}
