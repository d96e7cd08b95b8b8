/**
 * One poll of one Modbus device, whatever carries its requests (a TCP connection of its own, or
 * a shared RTU bus): the plan's requests in order, the readings they fill, the split of a
 * request the device rejects with an illegal-address exception, and the count of requests sent.
 * The drivers own the sending and what a failure means for the connection or the bus.
 */
import type { Reading, ReadStats as DriverReadStats } from '../types.js';
import { decodeBit, decodeValue, registerCount } from './decode.js';
import type { DriverClock } from './deps.js';
import { exceptionCode, ModbusErrors, type DeviceFault } from './errors.js';
import { bisect, planRequests, SplitLog, type Plan, type PlannablePoint, type PlanOptions, type ReadRequest } from './plan.js';

export type RequestResult = { kind: 'registers'; words: number[] } | { kind: 'bits'; bits: boolean[] };

/** What a driver reports about its last read (the device health shows it). */
export interface ReadStats extends DriverReadStats {
  /** Requests sent on the wire (answered or not), splits included. */
  requests: number;
  /** Requests of the plan before any split. */
  planned: number;
  /** Rejected requests split in two during the read. */
  splits: number;
}

const ILLEGAL_ADDRESS = exceptionCode(2);

/**
 * A device's last plan, reused while the poll asks for the same points (the same array: a
 * device's points change only with its config) with the same options and learned cuts. Cuts
 * only ever add up (CutMemory), so the same set at the same size is the same cuts. Planning
 * every poll allocated more than the poll's readings themselves; a plan is never changed by
 * the cycles that use it (splits make new requests).
 */
export class PlanCache {
  private last: { points: readonly PlannablePoint[]; maxGap: number | undefined; coalesce: boolean | undefined; cuts: ReadonlySet<string> | undefined; cutCount: number; plan: Plan<PlannablePoint> } | undefined;

  plan(points: readonly PlannablePoint[], options: PlanOptions): Plan<PlannablePoint> {
    const l = this.last;
    const cutCount = options.cuts?.size ?? 0;
    if (l !== undefined && l.points === points && l.maxGap === options.maxGap && l.coalesce === options.coalesce && l.cuts === options.cuts && l.cutCount === cutCount) return l.plan;
    const plan = planRequests(points, options);
    this.last = { points, maxGap: options.maxGap, coalesce: options.coalesce, cuts: options.cuts, cutCount, plan };
    return plan;
  }
}

export class ReadCycle {
  private readonly readings: (Reading | undefined)[];
  private readonly work: ReadRequest[];
  private readonly log = new SplitLog();
  /** Requests sent on the wire. */
  sent = 0;
  readonly planned: number;

  constructor(
    private readonly points: readonly PlannablePoint[],
    options: PlanOptions,
    private readonly clock: DriverClock,
    plans?: PlanCache,
  ) {
    this.readings = points.map(() => undefined);
    const { requests, invalid } = plans === undefined ? planRequests(points, options) : plans.plan(points, options);
    for (const { index, point, problem } of invalid) this.readings[index] = badReading(point, clock.now(), ModbusErrors.pointInvalid, problem);
    // A copy: the cycle takes requests off its work list (and puts split halves on it).
    this.work = [...requests];
    this.planned = requests.length;
  }

  get stats(): ReadStats {
    return { requests: this.sent, planned: this.planned, splits: this.log.splits };
  }

  /** The next request to send, or undefined when the poll is done. */
  next(): ReadRequest | undefined {
    return this.work.shift();
  }

  get remaining(): number {
    return this.work.length;
  }

  answered(request: ReadRequest, result: RequestResult): void {
    this.log.ok(request);
    const ts = this.clock.now();
    for (const { index, offset, point } of request.points) {
      let raw: number | boolean | string;
      try {
        raw =
          result.kind === 'bits'
            ? decodeBit(result.bits[offset] === true, point.type)
            : decodeValue(wordsOf(result.words, offset, point), point);
      } catch (err) {
        this.readings[index] = badReading(point, ts, ModbusErrors.protocol, `cannot decode ${point.type}: ${(err as Error).message}`);
        continue;
      }
      this.readings[index] =
        typeof raw === 'number' && !Number.isFinite(raw)
          ? badReading(point, ts, ModbusErrors.notFinite, `${point.type} decoded to ${raw}`)
          : { pointId: point.id, ts, raw, quality: 'good' };
    }
  }

  /**
   * An exception response. An illegal address on a request of several points splits it: both
   * halves go first in line, so this poll still reads every good point. Returns true when split.
   */
  exception(request: ReadRequest, f: Pick<DeviceFault, 'code' | 'detail'>): boolean {
    if (f.code === ILLEGAL_ADDRESS) {
      const halves = bisect(request);
      if (halves !== undefined) {
        this.log.split(request, halves);
        this.work.unshift(halves.left, halves.right);
        return true;
      }
      this.log.rejected(request);
    }
    this.mark(request, f);
    return false;
  }

  /** Cuts that later plans should keep, learned from this poll's splits. */
  learnedCuts(): string[] {
    return this.log.cuts();
  }

  mark(request: ReadRequest, f: Pick<DeviceFault, 'code' | 'detail'>): void {
    const now = this.clock.now();
    for (const { index, point } of request.points) this.readings[index] = badReading(point, now, f.code, f.detail);
  }

  /** Every request still waiting gets this fault, unsent. */
  failRest(f: Pick<DeviceFault, 'code' | 'detail'>): void {
    for (let r = this.next(); r !== undefined; r = this.next()) this.mark(r, f);
  }

  /** One reading per point, in the order the points were given. */
  finish(): Reading[] {
    const now = this.clock.now();
    return this.readings.map((r, i) => r ?? badReading(this.points[i] as PlannablePoint, now, ModbusErrors.protocol, 'point was not planned'));
  }
}

/**
 * The registers of one point in an answer: only its own (a string takes the rest, as its length
 * may be unset), so a poll does not copy the rest of the answer once per point.
 */
function wordsOf(words: readonly number[], offset: number, point: PlannablePoint): readonly number[] {
  return point.type === 'string' ? words.slice(offset) : words.slice(offset, offset + registerCount(point.type));
}

export function badReading(point: Pick<PlannablePoint, 'id'>, ts: number, error: string, detail: string): Reading {
  return { pointId: point.id, ts, raw: null, quality: 'bad', error, detail };
}

/** The same fault for requests that were never sent because an earlier one failed. */
export function notSentAfter<F extends { detail: string }>(f: F): F {
  return { ...f, detail: `not sent after: ${f.detail}` };
}

export function abortedFault(detail: string): DeviceFault {
  return { code: ModbusErrors.aborted, detail, dropConnection: false, backoff: false };
}

/** `holding:0+12`, for logs and the once-per-request exception warning. */
export function requestKey(r: ReadRequest): string {
  return `${r.register}:${r.address}+${r.count}`;
}

/** One signal that fires when either fires; `release` detaches it from both. */
export function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; release(): void } {
  const linked = new AbortController();
  const abort = () => linked.abort();
  if (a.aborted || b.aborted) linked.abort();
  a.addEventListener('abort', abort, { once: true });
  b.addEventListener('abort', abort, { once: true });
  return {
    signal: linked.signal,
    release: () => {
      a.removeEventListener('abort', abort);
      b.removeEventListener('abort', abort);
    },
  };
}
