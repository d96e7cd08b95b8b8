/**
 * The yardsticks of the Modbus figures, computed here independently of the driver's planner:
 * the minimal set of read requests for a device (by dynamic programming over every way to cut
 * each table's points into requests, not by the planner's greedy packing), and the time that set
 * of requests takes on an RTU line (Modbus over serial line v1.02).
 */
type Table = 'coil' | 'discrete' | 'holding' | 'input';

export interface WirePoint {
  register: Table;
  address: number;
  /** Registers (or bits) it occupies. */
  width: number;
}

export interface WireRequest {
  register: Table;
  address: number;
  count: number;
}

const MAX_READ: Record<Table, number> = { coil: 2000, discrete: 2000, holding: 125, input: 125 };

/**
 * Fewest requests covering every point, each request within the protocol's maximum read and
 * reading through at most `maxGap` unused registers (bits) between two points.
 */
export function minimalRequests(points: readonly WirePoint[], maxGap: number): WireRequest[] {
  const out: WireRequest[] = [];
  for (const register of ['coil', 'discrete', 'holding', 'input'] as const) {
    const pts = points.filter((p) => p.register === register).sort((a, b) => a.address - b.address);
    const n = pts.length;
    if (n === 0) continue;
    // best[i]: fewest requests for the first i points; from[i]: where the last request starts.
    const best = new Array<number>(n + 1).fill(Infinity);
    const from = new Array<number>(n + 1).fill(0);
    best[0] = 0;
    for (let i = 1; i <= n; i++) {
      // The last request holds points j..i-1: legal when it fits one read and no gap inside it
      // (from the furthest end so far to the next start) is wider than maxGap.
      for (let j = i - 1; j >= 0; j--) {
        const group = pts.slice(j, i);
        const span = Math.max(...group.map((p) => p.address + p.width)) - group[0]!.address;
        if (span > MAX_READ[register]) break; // only grows as j goes left
        let reach = group[0]!.address + group[0]!.width;
        let legal = true;
        for (const p of group.slice(1)) {
          if (p.address - reach > maxGap) legal = false;
          reach = Math.max(reach, p.address + p.width);
        }
        if (legal && best[j]! + 1 < best[i]!) {
          best[i] = best[j]! + 1;
          from[i] = j;
        }
      }
    }
    const requests: WireRequest[] = [];
    for (let i = n; i > 0; i = from[i]!) {
      const group = pts.slice(from[i], i);
      const address = group[0]!.address;
      const end = Math.max(...group.map((p) => p.address + p.width));
      requests.unshift({ register, address, count: end - address });
    }
    out.push(...requests);
  }
  return out;
}

export interface Line {
  baudRate: number;
  /** Bits per character: start + data + parity + stop (8N1: 10). */
  bitsPerChar: number;
}

export function charMs(line: Line): number {
  return (line.bitsPerChar * 1000) / line.baudRate;
}

/** Silence that ends a frame: 3.5 characters, a fixed 1.75 ms above 19200 baud. */
export function silenceMs(line: Line): number {
  return line.baudRate > 19200 ? 1.75 : 3.5 * charMs(line);
}

/** Bytes of the normal answer to a read (unit, function, byte count, data, CRC). */
export function answerBytes(r: WireRequest): number {
  const data = r.register === 'coil' || r.register === 'discrete' ? Math.ceil(r.count / 8) : 2 * r.count;
  return 3 + data + 2;
}

/**
 * Time on the wire of one poll: per request, the 8-byte request, the silence that ends it, the
 * answer, and the silence before the next request. A slave that answers at once and a master
 * with no overhead take exactly this; nothing can be faster.
 */
export function wireTimeMs(requests: readonly WireRequest[], line: Line): number {
  let ms = 0;
  for (const r of requests) ms += (8 + answerBytes(r)) * charMs(line) + 2 * silenceMs(line);
  return ms;
}
