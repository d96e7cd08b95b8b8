/**
 * Read planning: a device's points → the fewest read requests. Pure functions, no I/O.
 *
 * Points of one table are sorted by address and packed greedily into requests that stay within
 * the protocol limits (125 registers for FC3/FC4, 2000 bits for FC1/FC2) and read through at most
 * `maxGap` unused registers (or bits) between two points. Packing left to right as far as each
 * request can go gives the minimal number of requests for those limits. On a bus, the round trip
 * and the turnaround, not the payload, are what a poll costs, so fewer requests is what matters.
 *
 * Reading through unused registers is a gamble: many devices answer a request that touches an
 * unmapped register with exception 2 (illegal data address). So the default `maxGap` is 0 (only
 * touching or overlapping points are joined), `coalesce: false` gives one request per point for
 * devices that reject multi-point reads, and a rejected request is split in two (`bisect`) until
 * the bad address is found; what was learned becomes `cuts` that later plans respect (SplitLog).
 */
import type { ModbusPoint, RegisterKind } from '../../config/types.js';
import { registerCount } from './decode.js';

/** Largest read per function code (Modbus application protocol v1.1b3, FC1/FC2: 2000 bits, FC3/FC4: 125 registers). */
export const MAX_READ: Record<RegisterKind, number> = { coil: 2000, discrete: 2000, holding: 125, input: 125 };

export type PlannablePoint = Pick<ModbusPoint, 'id' | 'register' | 'address' | 'type' | 'order'> & Partial<Pick<ModbusPoint, 'length' | 'bit' | 'byte'>>;

export interface PlannedPoint<P extends PlannablePoint = PlannablePoint> {
  /** Position of the point in the list given to `planRequests`, so readings keep that order. */
  index: number;
  /** Offset of the point's first register (or bit) inside the request. */
  offset: number;
  point: P;
}

export interface ReadRequest<P extends PlannablePoint = PlannablePoint> {
  register: RegisterKind;
  address: number;
  /** Registers (holding/input) or bits (coil/discrete). */
  count: number;
  /** Sorted by address. */
  points: PlannedPoint<P>[];
}

export interface PlanOptions {
  /** Unused registers (bits for coils and discrete inputs) one request may read through. Default 0. */
  maxGap?: number;
  /** false: one request per start address (points on the same register still share it). Default true. */
  coalesce?: boolean;
  /** Learned cuts (`cutKey`): no request holds points on both sides of one. */
  cuts?: ReadonlySet<string>;
}

export interface Plan<P extends PlannablePoint> {
  requests: ReadRequest<P>[];
  invalid: { index: number; point: P; problem: string }[];
}

export function isBitRegister(register: RegisterKind): boolean {
  return register === 'coil' || register === 'discrete';
}

/** Registers (or bits) a point occupies. A coil or discrete input is one bit whatever its type. */
export function pointWidth(point: PlannablePoint): number {
  return isBitRegister(point.register) ? 1 : registerCount(point.type, point.length);
}

/** Why a point cannot be read at all, or undefined when it can. */
export function pointProblem(point: PlannablePoint): string | undefined {
  const end = point.address + pointWidth(point);
  if (!Number.isInteger(point.address) || point.address < 0 || end > 65536) {
    return `${point.type} at ${point.register} address ${point.address} runs past the last address 65535`;
  }
  if (pointWidth(point) > MAX_READ[point.register]) return `a ${point.type} of ${pointWidth(point)} registers is longer than one read (${MAX_READ[point.register]})`;
  return undefined;
}

/** A cut before `address` in `register`: points below it and points from it on are never read together. */
export function cutKey(register: RegisterKind, address: number): string {
  return `${register}:${address}`;
}

const KIND_ORDER: readonly RegisterKind[] = ['coil', 'discrete', 'holding', 'input'];

function cutsOf(cuts: ReadonlySet<string> | undefined, register: RegisterKind): number[] {
  if (cuts === undefined || cuts.size === 0) return [];
  const prefix = `${register}:`;
  return [...cuts].filter((c) => c.startsWith(prefix)).map((c) => Number(c.slice(prefix.length))).sort((a, b) => a - b);
}

export function planRequests<P extends PlannablePoint>(points: readonly P[], opts: PlanOptions = {}): Plan<P> {
  const maxGap = Math.max(0, opts.maxGap ?? 0);
  const coalesce = opts.coalesce ?? true;
  const invalid: Plan<P>['invalid'] = [];
  const valid: { index: number; point: P }[] = [];
  points.forEach((point, index) => {
    const problem = pointProblem(point);
    if (problem === undefined) valid.push({ index, point });
    else invalid.push({ index, point, problem });
  });

  const requests: ReadRequest<P>[] = [];
  for (const register of KIND_ORDER) {
    const sorted = valid.filter((v) => v.point.register === register).sort((a, b) => a.point.address - b.point.address || a.index - b.index);
    const cuts = cutsOf(opts.cuts, register);
    let nextCut = 0;
    let current: ReadRequest<P> | undefined;
    let lastStart = -1;
    for (const { index, point } of sorted) {
      const end = point.address + pointWidth(point);
      // Cuts at or below the previous point's start no longer matter; one in (lastStart, address] splits.
      while (nextCut < cuts.length && (cuts[nextCut] as number) <= lastStart) nextCut++;
      const crossesCut = nextCut < cuts.length && (cuts[nextCut] as number) <= point.address;
      let joins = false;
      if (current !== undefined && !crossesCut) {
        const currentEnd = current.address + current.count;
        const span = Math.max(end, currentEnd) - current.address;
        joins = coalesce ? point.address - currentEnd <= maxGap && span <= MAX_READ[register] : point.address === current.address;
      }
      if (current !== undefined && joins) {
        current.count = Math.max(end, current.address + current.count) - current.address;
        current.points.push({ index, offset: point.address - current.address, point });
      } else {
        current = { register, address: point.address, count: end - point.address, points: [{ index, offset: 0, point }] };
        requests.push(current);
      }
      lastStart = point.address;
    }
  }
  return { requests, invalid };
}

/** A request rebuilt around some of its points (offsets recomputed). */
function around<P extends PlannablePoint>(register: RegisterKind, planned: readonly PlannedPoint<P>[]): ReadRequest<P> {
  const address = Math.min(...planned.map((p) => p.point.address));
  const end = Math.max(...planned.map((p) => p.point.address + pointWidth(p.point)));
  return { register, address, count: end - address, points: planned.map((p) => ({ ...p, offset: p.point.address - address })) };
}

/**
 * Splits a rejected request in two at the middle of its distinct start addresses, or returns
 * undefined when every point starts at the same address (nothing left to split).
 */
export function bisect<P extends PlannablePoint>(request: ReadRequest<P>): { left: ReadRequest<P>; right: ReadRequest<P>; boundary: number } | undefined {
  const starts = [...new Set(request.points.map((p) => p.point.address))].sort((a, b) => a - b);
  if (starts.length < 2) return undefined;
  const boundary = starts[Math.floor(starts.length / 2)] as number;
  const left = request.points.filter((p) => p.point.address < boundary);
  const right = request.points.filter((p) => p.point.address >= boundary);
  return { left: around(request.register, left), right: around(request.register, right), boundary };
}

/**
 * What one poll's splits teach. After a rejected request was split:
 * - both halves answered: the registers between them are what the device rejects, so the plan
 *   cuts at the boundary;
 * - a single point (one start address) is rejected on its own: it is isolated, cut before and after;
 * - otherwise (one half rejected again) that half's own split explains it; no cut at this level.
 * Cuts only ever add up, so a plan converges in a few polls to requests the device accepts.
 */
export class SplitLog {
  private readonly pairs: { register: RegisterKind; left: ReadRequest; right: ReadRequest; boundary: number }[] = [];
  private readonly fromSplit = new Set<ReadRequest>();
  private readonly answered = new Set<ReadRequest>();
  private readonly isolated: ReadRequest[] = [];

  split(parent: ReadRequest, halves: { left: ReadRequest; right: ReadRequest; boundary: number }): void {
    this.pairs.push({ register: parent.register, ...halves });
    this.fromSplit.add(halves.left);
    this.fromSplit.add(halves.right);
  }

  ok(request: ReadRequest): void {
    this.answered.add(request);
  }

  /** A request that cannot be split further was rejected with an illegal address. */
  rejected(request: ReadRequest): void {
    if (this.fromSplit.has(request)) this.isolated.push(request);
  }

  get splits(): number {
    return this.pairs.length;
  }

  cuts(): string[] {
    const out = new Set<string>();
    for (const p of this.pairs) {
      if (this.answered.has(p.left) && this.answered.has(p.right)) out.add(cutKey(p.register, p.boundary));
    }
    for (const r of this.isolated) {
      out.add(cutKey(r.register, r.address));
      out.add(cutKey(r.register, r.address + 1));
    }
    return [...out];
  }
}
