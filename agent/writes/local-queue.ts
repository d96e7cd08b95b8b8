// Room agent/writes: writes to field devices (guard, device queue, read-back, audit); may import config, drivers, buffer, agent/pipeline and agent/{clock,logger}.
/**
 * How `edge-agent write` reaches the running agent: the command queues a request in the buffer
 * file, the agent takes it (marked taken before it runs, so a crash never runs it twice) and
 * executes it with `requestId: local:<n>`, which the command then finds in the audit.
 * A request older than `staleMs` when the agent sees it (it was not running) is refused, not
 * executed: a pump must not start an hour after the technician asked.
 */
import type { CommandStore } from '../../buffer/commands.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { WriteErrors, type WriteApi } from './types.js';

export const LOCAL_REQUEST_STALE_MS = 30_000;

export class LocalWriteQueue {
  private timer: unknown;
  private running = false;
  private stopped = false;

  constructor(
    private readonly opts: { store: () => CommandStore | undefined; writes: WriteApi; clock: Clock; logger: Logger; everyMs?: number; staleMs?: number },
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimeout(() => void this.tick(), this.opts.everyMs ?? 250);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const store = this.opts.store();
      for (const r of store?.waitingRequests() ?? []) {
        const now = this.opts.clock.now();
        store?.completeRequest(r.id, '', now);
        let value: number | string | boolean;
        try {
          value = JSON.parse(r.value) as number | string | boolean;
        } catch {
          value = r.value;
        }
        const req = { device: r.device, point: r.point, value, by: r.by, origin: 'local' as const, requestId: `local:${r.id}` };
        if (now - r.at > (this.opts.staleMs ?? LOCAL_REQUEST_STALE_MS)) {
          await this.opts.writes.recordRefusal(req, WriteErrors.stale, `asked ${Math.round((now - r.at) / 1000)} s ago while the agent was not running: not executed late`);
        } else {
          void this.opts.writes.execute(req);
        }
      }
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'local write requests could not be read');
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
