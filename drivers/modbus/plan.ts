/**
 * Turns a device's points into read requests. Points of the same register kind whose registers
 * touch or overlap are read with one request (up to the protocol limits), because on a gateway
 * the round trip, not the payload, is what a poll costs. Gaps are never bridged: an unmapped
 * register in between would make the whole request fail with an illegal-address exception.
 */
import type { ModbusPoint, RegisterKind } from '../../config/types.js';
import { registerCount } from './decode.js';

/** Largest read per function code (Modbus application protocol v1.1b3, FC1/FC2: 2000 bits, FC3/FC4: 125 registers). */
export const MAX_READ: Record<RegisterKind, number> = { coil: 2000, discrete: 2000, holding: 125, input: 125 };

export type PlannablePoint = Pick<ModbusPoint, 'id' | 'register' | 'address' | 'type' | 'order'>;

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
  points: PlannedPoint<P>[];
}

export function isBitRegister(register: RegisterKind): boolean {
  return register === 'coil' || register === 'discrete';
}

/** Registers (or bits) a point occupies. A coil or discrete input is one bit whatever its type. */
export function pointWidth(point: PlannablePoint): number {
  return isBitRegister(point.register) ? 1 : registerCount(point.type);
}

/** Why a point cannot be read at all, or undefined when it can. */
export function pointProblem(point: PlannablePoint): string | undefined {
  const end = point.address + pointWidth(point);
  if (!Number.isInteger(point.address) || point.address < 0 || end > 65536) {
    return `${point.type} at ${point.register} address ${point.address} runs past the last address 65535`;
  }
  return undefined;
}

const KIND_ORDER: readonly RegisterKind[] = ['coil', 'discrete', 'holding', 'input'];

export function planRequests<P extends PlannablePoint>(
  points: readonly P[],
): { requests: ReadRequest<P>[]; invalid: { index: number; point: P; problem: string }[] } {
  const invalid: { index: number; point: P; problem: string }[] = [];
  const valid: { index: number; point: P }[] = [];
  points.forEach((point, index) => {
    const problem = pointProblem(point);
    if (problem === undefined) valid.push({ index, point });
    else invalid.push({ index, point, problem });
  });

  const requests: ReadRequest<P>[] = [];
  for (const register of KIND_ORDER) {
    const sorted = valid.filter((v) => v.point.register === register).sort((a, b) => a.point.address - b.point.address || a.index - b.index);
    let current: ReadRequest<P> | undefined;
    for (const { index, point } of sorted) {
      const end = point.address + pointWidth(point);
      const fits = current !== undefined && point.address <= current.address + current.count && Math.max(end, current.address + current.count) - current.address <= MAX_READ[register];
      if (current !== undefined && fits) {
        current.count = Math.max(end, current.address + current.count) - current.address;
        current.points.push({ index, offset: point.address - current.address, point });
      } else {
        current = { register, address: point.address, count: end - point.address, points: [{ index, offset: 0, point }] };
        requests.push(current);
      }
    }
  }
  return { requests, invalid };
}
