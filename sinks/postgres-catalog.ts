/**
 * Catalog sync: the gateway, its devices and their points with tags, mirrored into the catalog
 * tables in one transaction, so central ops never see half a configuration.
 */
import type pg from 'pg';
import type { catalogSql } from './postgres-sql.js';
import type { SinkCatalog } from './types.js';

type Statements = ReturnType<typeof catalogSql>;

interface Flat {
  devices: { ids: string[]; drivers: string[]; tags: string[] };
  bindings: { devices: string[]; points: string[]; measurements: string[]; units: (string | null)[] };
  tags: { devices: string[]; points: string[]; keys: string[]; values: string[] };
}

/** Column arrays for the unnest statements. Duplicates (last wins) would make ON CONFLICT DO UPDATE fail. */
function flatten(catalog: SinkCatalog): Flat {
  const devices = new Map<string, SinkCatalog['devices'][number]>();
  for (const d of catalog.devices) devices.set(d.id, d);
  const flat: Flat = {
    devices: { ids: [], drivers: [], tags: [] },
    bindings: { devices: [], points: [], measurements: [], units: [] },
    tags: { devices: [], points: [], keys: [], values: [] },
  };
  for (const d of devices.values()) {
    flat.devices.ids.push(d.id);
    flat.devices.drivers.push(d.driver);
    flat.devices.tags.push(JSON.stringify(d.tags));
    const points = new Map(d.points.map((p) => [p.id, p]));
    for (const p of points.values()) {
      flat.bindings.devices.push(d.id);
      flat.bindings.points.push(p.id);
      flat.bindings.measurements.push(p.measurement);
      flat.bindings.units.push(p.unit ?? null);
      for (const [k, v] of Object.entries(p.tags)) {
        flat.tags.devices.push(d.id);
        flat.tags.points.push(p.id);
        flat.tags.keys.push(k);
        flat.tags.values.push(v);
      }
    }
  }
  return flat;
}

/** The statements of one sync, on a client already inside a transaction (postgres-tx.ts). */
export async function syncCatalog(client: pg.ClientBase, sql: Statements, catalog: SinkCatalog): Promise<void> {
  const gw = catalog.gateway.id;
  const { devices, bindings, tags } = flatten(catalog);
  await client.query(sql.gateway, [gw, catalog.gateway.site, JSON.stringify(catalog.gateway.tags)]);
  await client.query(sql.devices, [gw, devices.ids, devices.drivers, devices.tags]);
  await client.query(sql.retireDevices, [gw, devices.ids]);
  await client.query(sql.bindings, [gw, bindings.devices, bindings.points, bindings.measurements, bindings.units]);
  await client.query(sql.retireBindings, [gw, bindings.devices, bindings.points]);
  await client.query(sql.dropTags, [gw, bindings.devices, bindings.points, tags.devices, tags.points, tags.keys]);
  await client.query(sql.tags, [gw, tags.devices, tags.points, tags.keys, tags.values]);
}
