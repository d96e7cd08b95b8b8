/**
 * One write of one point, whatever carries it (a TCP connection, a shared RTU bus): read what the
 * device holds now (the audit's previous value, and the register a bit lives in), encode, write.
 * The caller runs it inside one slot of the device's queue or the bus, so no poll or other
 * slave's frame comes between the read and the write.
 */
import type { ModbusPoint } from '../../config/types.js';
import type { WriteOrder, WriteResult } from '../types.js';
import type { DriverClock } from './deps.js';
import { ModbusErrors } from './errors.js';
import type { ReadRequest } from './plan.js';
import { ReadCycle, type RequestResult } from './read-cycle.js';
import type { WriteFunction } from './rtu-frame.js';
import { encodeWrite, writeFunction } from './write.js';

export interface WriteLink {
  read(request: ReadRequest): Promise<RequestResult>;
  write(fc: WriteFunction, address: number, data: number[] | boolean[]): Promise<void>;
  /** The fault's stable code and detail (and whatever the transport does about it). */
  fault(err: unknown): { code: string; detail: string };
}

export async function runWrite(order: WriteOrder<ModbusPoint>, link: WriteLink, clock: DriverClock): Promise<WriteResult> {
  const { point } = order;
  const cycle = new ReadCycle([point], { coalesce: false }, clock);
  const request = cycle.next();
  if (request === undefined) {
    const r = cycle.finish()[0];
    return { status: 'failed', code: ModbusErrors.pointInvalid, detail: r?.detail ?? 'the point cannot be read', sent: false };
  }
  let current: RequestResult;
  try {
    current = await link.read(request);
  } catch (err) {
    return { status: 'failed', ...link.fault(err), sent: false };
  }
  cycle.answered(request, current);
  const previous = cycle.finish()[0] ?? { pointId: point.id, ts: clock.now(), raw: null, quality: 'bad' as const };
  let data: number[] | boolean[];
  let fc: WriteFunction;
  try {
    const encoded = encodeWrite(point, order.raw, current.kind === 'registers' ? current.words : undefined);
    data = encoded.kind === 'bits' ? encoded.bits : encoded.words;
    fc = writeFunction(encoded, order.functionCode);
  } catch (err) {
    return { status: 'failed', code: ModbusErrors.pointInvalid, detail: (err as Error).message, sent: false, previous };
  }
  try {
    await link.write(fc, point.address, data);
  } catch (err) {
    return { status: 'failed', ...link.fault(err), sent: true, previous, written: data, fc };
  }
  return { status: 'written', written: data, previous, fc };
}
