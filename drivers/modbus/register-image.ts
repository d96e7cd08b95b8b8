/**
 * The four Modbus tables of a slave, as sparse maps. Unmapped addresses stay unmapped, so a
 * server built on an image answers them with exception 2 (illegal data address) like a real
 * device does, instead of inventing zeros.
 */
import type { ByteOrder, ModbusType, RegisterKind } from '../../config/types.js';
import { encodeValue } from './decode.js';

export type WordTable = 'holding' | 'input';
export type BitTable = 'coil' | 'discrete';

/** What a server answers from. Returning undefined means "not mapped": exception 2. */
export interface RegisterSource {
  registers(table: WordTable, address: number, count: number): number[] | undefined;
  bit(table: BitTable, address: number): boolean | undefined;
}

export class RegisterImage implements RegisterSource {
  private readonly words: Record<WordTable, Map<number, number>> = { holding: new Map(), input: new Map() };
  private readonly bits: Record<BitTable, Map<number, boolean>> = { coil: new Map(), discrete: new Map() };

  /** Puts raw registers from `address` on. */
  setWords(table: WordTable, address: number, words: readonly number[]): this {
    words.forEach((w, i) => this.words[table].set(address + i, w & 0xffff));
    return this;
  }

  setBit(table: BitTable, address: number, value: boolean): this {
    this.bits[table].set(address, value);
    return this;
  }

  /** Encodes a typed value the way a device with this byte order would hold it. */
  setValue(register: RegisterKind, address: number, value: number | bigint | boolean, type: ModbusType, order: ByteOrder = 'ABCD'): this {
    if (register === 'coil' || register === 'discrete') return this.setBit(register, address, value === true || (typeof value !== 'boolean' && Number(value) !== 0));
    return this.setWords(register, address, encodeValue(value, type, order));
  }

  unset(register: RegisterKind, address: number): this {
    if (register === 'coil' || register === 'discrete') this.bits[register].delete(address);
    else this.words[register].delete(address);
    return this;
  }

  registers(table: WordTable, address: number, count: number): number[] | undefined {
    const out: number[] = [];
    for (let a = address; a < address + count; a++) {
      const w = this.words[table].get(a);
      if (w === undefined) return undefined;
      out.push(w);
    }
    return out;
  }

  bit(table: BitTable, address: number): boolean | undefined {
    return this.bits[table].get(address);
  }
}
