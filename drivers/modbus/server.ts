/**
 * A Modbus TCP slave on modbus-serial's ServerTCP, answering from a RegisterSource. Used by the
 * simulator and by tests that need a real peer.
 *
 * Three quirks of ServerTCP are handled here:
 * - it listens in its constructor and turns port 0 into 502 (`options.port || 502`), so an
 *   ephemeral port is found first and a lost race for it (EADDRINUSE) is retried;
 * - it has no listening promise, only 'initialized' and 'serverError' events;
 * - its vector functions are told apart by arity (`fn.length === 3` means callback style for
 *   single reads), so the functions below take exactly the synchronous parameter lists.
 */
import net from 'node:net';
import { ServerTCP, type IServiceVector } from 'modbus-serial';
import type { RegisterSource } from './register-image.js';

export interface ModbusTcpServerOptions {
  host?: string;
  /** 0 picks a free port; read it back from `port`. */
  port: number;
  /** Answer only this unit id (others get no answer, like a real gateway). Omit to answer all. */
  unitId?: number;
}

export interface RunningModbusServer {
  readonly host: string;
  readonly port: number;
  /** Closes the listener and every client socket. Idempotent. */
  close(): Promise<void>;
}

/** modbus-serial turns `modbusErrorCode` on a thrown error into an exception response. */
function illegalAddress(table: string, address: number, count: number): Error {
  return Object.assign(new Error(`${table} ${address}+${count} is not mapped`), { modbusErrorCode: 2 });
}

export function vectorFor(source: RegisterSource): IServiceVector {
  const words = (table: 'holding' | 'input', addr: number, length: number): number[] => {
    const w = source.registers(table, addr, length);
    if (w === undefined) throw illegalAddress(table, addr, length);
    return w;
  };
  const bit = (table: 'coil' | 'discrete', addr: number): boolean => {
    const b = source.bit(table, addr);
    if (b === undefined) throw illegalAddress(table, addr, 1);
    return b;
  };
  // Whole-range getters answer a request from one snapshot: a float spread over two registers
  // is never torn between two moments of a changing source.
  return {
    getMultipleHoldingRegisters: (addr: number, length: number, _unitID: number) => words('holding', addr, length),
    getMultipleInputRegisters: (addr: number, length: number, _unitID: number) => words('input', addr, length),
    getHoldingRegister: (addr: number, _unitID: number) => words('holding', addr, 1)[0] ?? 0,
    getInputRegister: (addr: number, _unitID: number) => words('input', addr, 1)[0] ?? 0,
    getCoil: (addr: number, _unitID: number) => bit('coil', addr),
    getDiscreteInput: (addr: number, _unitID: number) => bit('discrete', addr),
  };
}

async function freePort(host: string): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, host, () => resolve());
  });
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function listenOnce(source: RegisterSource, host: string, port: number, unitId: number | undefined): Promise<ServerTCP> {
  return new Promise((resolve, reject) => {
    const server = new ServerTCP(vectorFor(source), { host, port, ...(unitId !== undefined ? { unitID: unitId } : {}) });
    // Client sockets that reset are normal life for a server; they must never become an
    // unhandled 'error' event.
    server.on('socketError', () => {});
    server.on('error', () => {});
    const onError = (err: Error | null) => {
      server.close(() => {});
      reject(err ?? new Error('modbus server failed to listen'));
    };
    server.once('serverError', onError);
    server.once('initialized', () => {
      server.removeListener('serverError', onError);
      server.on('serverError', () => {});
      resolve(server);
    });
  });
}

export async function startModbusTcpServer(source: RegisterSource, opts: ModbusTcpServerOptions): Promise<RunningModbusServer> {
  const host = opts.host ?? '127.0.0.1';
  let server: ServerTCP | undefined;
  let port = opts.port;
  for (let attempt = 1; server === undefined; attempt++) {
    port = opts.port === 0 ? await freePort(host) : opts.port;
    try {
      server = await listenOnce(source, host, port, opts.unitId);
    } catch (err) {
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!(opts.port === 0 && inUse && attempt < 5)) throw err;
    }
  }
  const running = server;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        // ServerTCP.close closes the listener and destroys the client sockets it tracks;
        // net.Server's callback fires once they are gone.
        running.close(() => resolve());
      })),
  };
}
