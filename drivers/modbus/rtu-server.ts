/**
 * Modbus RTU slaves on a serial port, on modbus-serial's ServerSerial: several unit ids on one
 * port, each answering from its own RegisterSource, and silence for any other unit id, the way
 * a bus with a dead or absent slave behaves. Used by tests (over socat pseudo-terminals) and
 * ready for an RTU simulator.
 *
 * ServerSerial quirks handled here:
 * - with `unitID: 255` it hands every unit id to the vector, so the vector picks the slave;
 * - a vector value that is a promise which never settles makes it send nothing at all, which is
 *   how an unknown unit id stays silent (an error would become exception 4);
 * - it frames requests by a 30 ms gap, so requests must not follow each other closer than that
 *   (a master waits for the answer anyway);
 * - it does not check the request CRC (pymodbus and mbpoll do, in the other tests).
 */
import { ServerSerial, type IServiceVector } from 'modbus-serial';
import type { BitTable, RegisterSource, WordTable } from './register-image.js';

export interface ModbusRtuServerOptions {
  path: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
  /** Silence that ends a request frame, ms (ServerSerial's default is 30). */
  frameGapMs?: number;
}

export interface RunningRtuServer {
  /** Requests seen per unit id (answered or not), counted once per request. */
  readonly requests: ReadonlyMap<number, number>;
  /** Closes the port. Idempotent. */
  close(): Promise<void>;
}

function illegalAddress(table: string, address: number, count: number): Error {
  return Object.assign(new Error(`${table} ${address}+${count} is not mapped`), { modbusErrorCode: 2 });
}

const silence = <T>(): Promise<T> => new Promise<T>(() => {});

/** A vector that answers each unit from its source and leaves other units unanswered. */
export function unitsVector(units: ReadonlyMap<number, RegisterSource>, seen: Map<number, number>): IServiceVector {
  // ServerSerial calls the single-item getters once per register or bit of a request: count a
  // request at its first address only (the one it was asked for), which each getter is told.
  const count = (unitID: number) => seen.set(unitID, (seen.get(unitID) ?? 0) + 1);
  const words = (table: WordTable, addr: number, length: number, unitID: number): number[] | Promise<number>[] => {
    const source = units.get(unitID);
    if (source === undefined) return Array.from({ length }, () => silence<number>());
    const w = source.registers(table, addr, length);
    if (w === undefined) throw illegalAddress(table, addr, length);
    return w;
  };
  const bit = (table: BitTable, addr: number, unitID: number): boolean | Promise<boolean> => {
    const source = units.get(unitID);
    if (source === undefined) return silence<boolean>();
    const b = source.bit(table, addr);
    if (b === undefined) throw illegalAddress(table, addr, 1);
    return b;
  };
  let lastBitRequest = '';
  const bitRequest = (table: BitTable, addr: number, unitID: number) => {
    // Bits arrive one call each, synchronously, for one request: a call right after the previous
    // address of the same table and unit belongs to the same request.
    const key = `${unitID}:${table}:${addr}`;
    const prev = `${unitID}:${table}:${addr - 1}`;
    if (lastBitRequest !== prev) count(unitID);
    lastBitRequest = key;
    queueMicrotask(() => {
      if (lastBitRequest === key) lastBitRequest = '';
    });
  };
  return {
    getMultipleHoldingRegisters: (addr: number, length: number, unitID: number) => (count(unitID), words('holding', addr, length, unitID)),
    getMultipleInputRegisters: (addr: number, length: number, unitID: number) => (count(unitID), words('input', addr, length, unitID)),
    getHoldingRegister: (addr: number, unitID: number) => (count(unitID), words('holding', addr, 1, unitID)[0] ?? 0),
    getInputRegister: (addr: number, unitID: number) => (count(unitID), words('input', addr, 1, unitID)[0] ?? 0),
    getCoil: (addr: number, unitID: number) => (bitRequest('coil', addr, unitID), bit('coil', addr, unitID)),
    getDiscreteInput: (addr: number, unitID: number) => (bitRequest('discrete', addr, unitID), bit('discrete', addr, unitID)),
  } as IServiceVector;
}

/** Opens `path` and answers as the given slaves. Resolves once the port is open. */
export function startModbusRtuServer(units: ReadonlyMap<number, RegisterSource>, opts: ModbusRtuServerOptions): Promise<RunningRtuServer> {
  const seen = new Map<number, number>();
  return new Promise((resolve, reject) => {
    let opened = false;
    const server = new ServerSerial(unitsVector(units, seen), {
      path: opts.path,
      baudRate: opts.baudRate ?? 9600,
      parity: opts.parity ?? 'none',
      stopBits: opts.stopBits ?? 1,
      dataBits: 8,
      unitID: 255,
      ...({ interval: opts.frameGapMs ?? 30 } as object),
      openCallback: (err: Error | null | undefined) => {
        if (err) reject(err);
      },
    });
    server.on('error', () => {});
    server.on('socketError', () => {});
    server.on('initialized', () => {
      opened = true;
      let closing: Promise<void> | undefined;
      resolve({
        requests: seen,
        close: () =>
          (closing ??= new Promise<void>((done) => {
            try {
              server.close(() => done());
            } catch {
              done();
            }
          })),
      });
    });
    setTimeout(() => {
      if (!opened) reject(new Error(`serial port ${opts.path} did not open`));
    }, 5000).unref();
  });
}
