// Room agent/writes: writes to field devices (guard, device queue, read-back, audit); may import config, drivers, buffer, agent/pipeline and agent/{clock,logger}.
/** The executor's audit on the agent's SQLite buffer (buffer/commands.ts says why it lives there). */
import type { SqliteBuffer } from '../../buffer/sqlite-buffer.js';
import type { CommandRecord, Point } from '../../buffer/types.js';
import type { AgentConfig } from '../../config/types.js';
import type { CommandAudit } from './executor.js';

/** How events reach the outbox: the clock guard when one watches the clock, so they are held or flagged like readings. */
interface Outbox {
  append(points: readonly Point[], extra: { commands?: readonly CommandRecord[] }): number;
}

export function commandAudit(buffer: SqliteBuffer, config: () => AgentConfig, outbox: Outbox = buffer): CommandAudit {
  return {
    store: (record) => buffer.commands.write([record]),
    finish: (record, event) => {
      // Tagged like the point written (gateway, site, device, point and its custom tags).
      const { settings, devices } = config();
      const point = devices.find((d) => d.id === record.device)?.points.find((p) => p.id === record.point);
      const tags = point?.tags ?? { gateway: settings.gateway.id, site: settings.gateway.site, device: record.device, point: record.point };
      outbox.append([{ ...event, tags, ...(point?.unit === undefined ? {} : { unit: point.unit }) }], { commands: [record] });
    },
    pending: () => buffer.commands.pending(),
  };
}
