// Room agent/delivery: forwarding buffered points to the sinks (forwarders, sink wiring, counters, back-off); may import sinks, buffer, config, agent/pipeline and agent/{clock,logger}.
/**
 * Which sinks the settings enable, and the catalog they mirror. A sink is enabled by its URL; its
 * client library (pg; the InfluxDB sink speaks HTTP itself) is imported only then.
 */
import type { AgentConfig, Settings } from '../../config/types.js';
import type { Sink, SinkCatalog } from '../../sinks/types.js';
import type { Logger } from '../logger.js';

export async function createSinks(settings: Settings, log: Logger): Promise<Sink[]> {
  const sinks: Sink[] = [];
  const { influx, postgres } = settings.sinks;
  if (influx.url !== '') {
    const { InfluxSink } = await import('../../sinks/influx.js');
    sinks.push(
      new InfluxSink({ url: influx.url, token: influx.token, org: influx.org, bucket: influx.bucket, logger: log.child({ component: 'sink', sink: 'influx' }) }),
    );
  }
  if (postgres.url !== '') {
    const { PostgresSink } = await import('../../sinks/postgres.js');
    sinks.push(
      new PostgresSink({ url: postgres.url, schema: postgres.schema, gatewayId: settings.gateway.id, logger: log.child({ component: 'sink', sink: 'postgres' }) }),
    );
  }
  return sinks;
}

export function toSinkCatalog(config: AgentConfig): SinkCatalog {
  const g = config.settings.gateway;
  return {
    gateway: { id: g.id, site: g.site, tags: g.tags },
    devices: config.devices.map((d) => ({
      id: d.id,
      driver: d.driver,
      tags: d.tags,
      points: d.points.map((p) => ({ id: p.id, measurement: p.measurement, tags: p.tags, ...(p.unit === undefined ? {} : { unit: p.unit }) })),
    })),
  };
}
