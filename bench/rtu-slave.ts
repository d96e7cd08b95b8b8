/**
 * A Modbus RTU slave that keeps the line's time, for the RTU cycle benchmark. A pseudo-terminal
 * carries bytes at once, whatever the baud rate; this slave puts the time back: it treats a
 * request as complete only when its 8 bytes and the 3.5-character silence after them would have
 * passed on the line, and sends its answer byte by byte, each byte no earlier than the moment
 * its last bit would arrive at that baud rate. A master polling it therefore sees what it would
 * see on a real RS-485 pair with a slave that answers at once (no think time).
 *
 * Runs as its own process (so the master's event loop cannot disturb its timing):
 *   node rtu-slave.js <path> <baudRate>
 * and reports over the IPC channel: `ready`, then on request the requests it has seen.
 */
import { SerialPort } from 'serialport';
import { crc16 } from '../drivers/modbus/rtu-frame.js';

interface Seen {
  register: 'coil' | 'discrete' | 'holding' | 'input';
  address: number;
  count: number;
}

const REGISTERS = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' } as const;

const [pathArg, baudArg] = process.argv.slice(2);
const baudRate = Number(baudArg);
if (pathArg === undefined || !(baudRate > 0)) {
  console.error('usage: rtu-slave <path> <baudRate>');
  process.exit(2);
}
const charMs = (10 * 1000) / baudRate; // 8N1
const silenceMs = baudRate > 19200 ? 1.75 : 3.5 * charMs;
const seen: Seen[] = [];
let rx = Buffer.alloc(0);
let busyUntil = 0;

const port = new SerialPort({ path: pathArg, baudRate, autoOpen: false });
port.on('error', () => {});
port.open((err) => {
  if (err) {
    console.error(`cannot open ${pathArg}: ${err.message}`);
    process.exit(1);
  }
  process.send?.({ ready: true });
});

process.on('message', (msg: { cmd?: string }) => {
  if (msg.cmd === 'seen') process.send?.({ seen });
  if (msg.cmd === 'reset') {
    seen.length = 0;
    process.send?.({ seen });
  }
  if (msg.cmd === 'close') port.close(() => process.exit(0));
});

port.on('data', (chunk: Buffer) => {
  const arrived = performance.now();
  rx = Buffer.concat([rx, chunk]);
  while (rx.length >= 8) {
    const frame = rx.subarray(0, 8);
    const crcOk = crc16(frame, 0, 6) === frame.readUInt16LE(6);
    const fc = frame[1] as number;
    if (!crcOk || fc < 1 || fc > 4) {
      rx = rx.subarray(1); // not a frame start: resynchronise
      continue;
    }
    rx = rx.subarray(8);
    const register = REGISTERS[fc as 1 | 2 | 3 | 4];
    const address = frame.readUInt16BE(2);
    const count = frame.readUInt16BE(4);
    seen.push({ register, address, count });
    // On the line the request's last bit lands 8 characters after its first, and the slave
    // knows the frame ended after 3.5 more characters of silence.
    const answerFrom = Math.max(arrived + 8 * charMs + silenceMs, busyUntil);
    const answer = answerFor(frame[0] as number, fc, address, count);
    busyUntil = answerFrom + answer.length * charMs;
    paced(answer, answerFrom);
  }
});

function answerFor(unit: number, fc: number, address: number, count: number): Buffer {
  const bits = fc <= 2;
  const data = Buffer.alloc(bits ? Math.ceil(count / 8) : 2 * count);
  if (bits) for (let i = 0; i < count; i++) data[i >> 3] = (data[i >> 3] as number) | (((address + i) % 3 === 0 ? 1 : 0) << (i & 7));
  else for (let i = 0; i < count; i++) data.writeUInt16BE((address + i) * 7 % 1000, 2 * i);
  const frame = Buffer.alloc(3 + data.length + 2);
  frame[0] = unit;
  frame[1] = fc;
  frame[2] = data.length;
  data.copy(frame, 3);
  frame.writeUInt16LE(crc16(frame, 0, 3 + data.length), 3 + data.length);
  return frame;
}

/** Writes byte i once its last bit would have arrived: at `from + (i + 1) × charMs`. */
function paced(frame: Buffer, from: number): void {
  let sent = 0;
  const step = () => {
    const now = performance.now();
    const due = Math.min(frame.length, Math.floor((now - from) / charMs));
    if (due > sent) {
      port.write(frame.subarray(sent, due));
      sent = due;
    }
    if (sent >= frame.length) return;
    const next = from + (sent + 1) * charMs - performance.now();
    // Timers are coarse (1 ms and late): sleep while far from the next byte, spin when close.
    if (next > 1.5) setTimeout(step, Math.max(1, Math.floor(next - 1)));
    else setImmediate(step);
  };
  step();
}
