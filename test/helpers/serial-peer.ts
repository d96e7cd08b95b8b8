/**
 * The device side of a pty pair: what a bedside monitor or a scale does at the other end of the
 * cable. It writes lines, and can answer commands (polled devices). Opened with serialport, like
 * the agent's end.
 */
import { SerialPort } from 'serialport';

export class SerialPeer {
  /** Everything the agent sent, as text. */
  received = '';
  private answer: ((command: string) => string | undefined) | undefined;

  private constructor(private readonly port: SerialPort) {
    port.on('data', (d: Buffer) => {
      this.received += d.toString('latin1');
      if (this.answer === undefined) return;
      // One answer per complete command line.
      for (;;) {
        const at = this.received.indexOf('\n');
        if (at === -1) break;
        const command = this.received.slice(0, at + 1);
        this.received = this.received.slice(at + 1);
        const reply = this.answer(command);
        if (reply !== undefined) port.write(Buffer.from(reply, 'latin1'));
      }
    });
    port.on('error', () => {});
  }

  static open(path: string): Promise<SerialPeer> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
      port.open((err) => (err ? reject(err) : resolve(new SerialPeer(port))));
    });
  }

  /** Writes text as is (give the line ends yourself). */
  write(text: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, (err) => (err ? reject(err) : this.port.drain(() => resolve())));
    });
  }

  /** Answers each command line the agent sends (undefined: stay silent). */
  onCommand(answer: (command: string) => string | undefined): void {
    this.answer = answer;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }
}

/** Polls `check` every 20 ms until it is true; fails after `timeoutMs` with `what`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
