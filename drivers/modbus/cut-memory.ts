/**
 * A device's learned cuts: where its plans must split because a coalesced read was rejected
 * with an illegal-address exception (plan.ts SplitLog). Kept for the life of the driver, so the
 * search costs a few extra requests once, not every poll.
 */
import type { ModbusPoint, ResolvedPoint } from '../../config/types.js';
import type { DriverLogger } from './deps.js';

export class CutMemory {
  private readonly cuts = new Set<string>();

  constructor(private readonly log: DriverLogger) {}

  get keys(): ReadonlySet<string> {
    return this.cuts;
  }

  learn(cuts: readonly string[]): void {
    const fresh = cuts.filter((c) => !this.cuts.has(c));
    if (fresh.length === 0) return;
    for (const c of fresh) this.cuts.add(c);
    this.log.info({ cuts: fresh, known: [...this.cuts] }, 'modbus read rejected an unmapped address; its requests are split there from now on');
  }
}

/**
 * The device's points as Modbus points. A Modbus driver is only ever given its own device's
 * points, which resolve.ts made Modbus points; anything else is a wiring mistake.
 */
export function modbusPoints(points: readonly ResolvedPoint[]): readonly ModbusPoint[] {
  for (const p of points) {
    if (!('register' in p)) throw new TypeError(`point ${p.id} is not a Modbus point`);
  }
  return points as readonly ModbusPoint[];
}
