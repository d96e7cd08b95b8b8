import { describe, expect, it } from 'vitest';
import { ReconnectBackoff } from '../../../drivers/modbus/backoff.js';
import { classifyError, ConnectionLostError, DeadlineError, RequestAbortedError } from '../../../drivers/modbus/errors.js';

describe('classifyError', () => {
  // The shapes modbus-serial and Node really produce (see node_modules/modbus-serial/index.js).
  it('maps an exception response to its code and keeps the connection', () => {
    const err = Object.assign(new Error('Modbus exception 2: Illegal data address (register not supported by device)'), { modbusCode: 2 });
    expect(classifyError(err)).toMatchObject({ code: 'EDGE_MODBUS_EXCEPTION_2', dropConnection: false, backoff: false });
  });

  it('maps timeouts to EDGE_DEVICE_TIMEOUT and drops the client', () => {
    const libTimeout = { name: 'TransactionTimedOutError', message: 'Timed out', errno: 'ETIMEDOUT' };
    expect(classifyError(libTimeout)).toMatchObject({ code: 'EDGE_DEVICE_TIMEOUT', dropConnection: true, backoff: true });
    expect(classifyError(new Error('TCP Connection Timed Out')).code).toBe('EDGE_DEVICE_TIMEOUT');
    expect(classifyError(new DeadlineError('no answer')).code).toBe('EDGE_DEVICE_TIMEOUT');
  });

  it('maps socket failures to EDGE_DEVICE_UNREACHABLE', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1502'), { code: 'ECONNREFUSED', errno: -111 });
    expect(classifyError(refused)).toMatchObject({ code: 'EDGE_DEVICE_UNREACHABLE', dropConnection: true, backoff: true });
    expect(classifyError({ name: 'PortNotOpenError', message: 'Port Not Open', errno: 'ECONNREFUSED' }).code).toBe('EDGE_DEVICE_UNREACHABLE');
    expect(classifyError(Object.assign(new Error('getaddrinfo ENOTFOUND plc.local'), { code: 'ENOTFOUND' })).code).toBe('EDGE_DEVICE_UNREACHABLE');
    expect(classifyError(new ConnectionLostError('closed')).code).toBe('EDGE_DEVICE_UNREACHABLE');
  });

  it('maps an abort to EDGE_DEVICE_ABORTED without back-off', () => {
    expect(classifyError(new RequestAbortedError('stop'))).toMatchObject({ code: 'EDGE_DEVICE_ABORTED', dropConnection: true, backoff: false });
  });

  it('treats garbled frames as protocol errors that reset the connection', () => {
    expect(classifyError(new Error('CRC error'))).toMatchObject({ code: 'EDGE_DEVICE_PROTOCOL', dropConnection: true });
    expect(classifyError('weird').detail).toBe('weird');
  });
});

describe('ReconnectBackoff', () => {
  it('doubles from 1 s to a 60 s cap, jittered between half and all of the ceiling', () => {
    const low = new ReconnectBackoff({ random: () => 0 });
    const high = new ReconnectBackoff({ random: () => 0.999999 });
    const lows = Array.from({ length: 9 }, () => low.next());
    const highs = Array.from({ length: 9 }, () => high.next());
    expect(lows).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(highs).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(low.failures).toBe(9);
    low.reset();
    expect(low.next()).toBe(500);
  });
});
