/**
 * The SQL of the PostgreSQL sink, in one place. Every statement is schema-qualified with a quoted
 * identifier, and every multi-row statement is a single `unnest` of parameter arrays: one round
 * trip per batch, whatever its size.
 */

import { alertsDdl } from './postgres-alerts.js';
import { commandsDdl } from './postgres-commands.js';

/** A quoted identifier: the schema name comes from config and may hold any character. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** PostgreSQL silently truncates identifiers longer than this many bytes. */
export const MAX_IDENT_BYTES = 63;

export const TABLES = ['points', 'gateways', 'devices', 'timeseries_binding', 'timeseries_binding_tag', 'alerts', 'commands'] as const;

/**
 * Idempotent DDL. Run under an advisory lock: concurrent `CREATE … IF NOT EXISTS` from many
 * gateways booting at once can otherwise fail with a unique violation on the catalog.
 */
export function ddl(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};

CREATE TABLE IF NOT EXISTS ${s}.points (
  gateway_id  text NOT NULL,
  device_id   text NOT NULL,
  point_id    text NOT NULL,
  ts          timestamptz NOT NULL,
  measurement text NOT NULL,
  value       double precision,
  value_text  text,
  value_bool  boolean,
  raw         jsonb,
  quality     text NOT NULL,
  error       text,
  unit        text,
  tags        jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (gateway_id, device_id, point_id, ts)
);

CREATE TABLE IF NOT EXISTS ${s}.gateways (
  gateway_id text PRIMARY KEY,
  site       text NOT NULL,
  tags       jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ${s}.devices (
  gateway_id text NOT NULL REFERENCES ${s}.gateways ON DELETE CASCADE,
  device_id  text NOT NULL,
  driver     text NOT NULL,
  tags       jsonb NOT NULL DEFAULT '{}',
  active     boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway_id, device_id)
);

CREATE TABLE IF NOT EXISTS ${s}.timeseries_binding (
  gateway_id  text NOT NULL,
  device_id   text NOT NULL,
  point_id    text NOT NULL,
  measurement text NOT NULL,
  unit        text,
  active      boolean NOT NULL DEFAULT true,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway_id, device_id, point_id),
  FOREIGN KEY (gateway_id, device_id) REFERENCES ${s}.devices ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS ${s}.timeseries_binding_tag (
  gateway_id text NOT NULL,
  device_id  text NOT NULL,
  point_id   text NOT NULL,
  tag_key    text NOT NULL,
  tag_value  text NOT NULL,
  PRIMARY KEY (gateway_id, device_id, point_id, tag_key),
  FOREIGN KEY (gateway_id, device_id, point_id) REFERENCES ${s}.timeseries_binding ON DELETE CASCADE
);
${alertsDdl(s)}
${commandsDdl(s)}`;
}

/**
 * $1 gateway_id; $2…$6 the batch's distinct series (device, point, measurement, unit, tags);
 * $7…$14 one element per row, `si` being the row's 1-based index into the series arrays.
 * Sending each series once instead of once per row cuts the statement's cost by about a third
 * (the server parses each tags jsonb once per batch, not once per row). Duplicate keys — a
 * re-sent batch — are skipped.
 */
export function insertPoints(s: string): string {
  return `
INSERT INTO ${s}.points (gateway_id, device_id, point_id, ts, measurement, value, value_text, value_bool, raw, quality, error, unit, tags)
SELECT $1, ($2::text[])[si], ($3::text[])[si], t, ($4::text[])[si], v, vt, vb, r, q, e, ($5::text[])[si], ($6::jsonb[])[si]
FROM unnest($7::int[], $8::timestamptz[], $9::float8[], $10::text[], $11::bool[], $12::jsonb[], $13::text[], $14::text[])
  AS x(si, t, v, vt, vb, r, q, e)
ON CONFLICT DO NOTHING`;
}

/**
 * Catalog statements. Updates only touch rows that changed (`IS DISTINCT FROM`), so `updated_at`
 * says when the config last changed, not when the agent last started. Rows of other gateways are
 * never touched: every statement is keyed by $1 gateway_id.
 */
export function catalogSql(s: string) {
  return {
    gateway: `
INSERT INTO ${s}.gateways AS g (gateway_id, site, tags) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (gateway_id) DO UPDATE SET site = excluded.site, tags = excluded.tags, updated_at = now()
WHERE (g.site, g.tags) IS DISTINCT FROM (excluded.site, excluded.tags)`,

    devices: `
INSERT INTO ${s}.devices AS dv (gateway_id, device_id, driver, tags)
SELECT $1, d, drv, t FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS x(d, drv, t)
ON CONFLICT (gateway_id, device_id) DO UPDATE SET driver = excluded.driver, tags = excluded.tags, active = true, updated_at = now()
WHERE (dv.driver, dv.tags, dv.active) IS DISTINCT FROM (excluded.driver, excluded.tags, true)`,

    // Removed devices are kept, inactive: the points table still refers to them.
    retireDevices: `
UPDATE ${s}.devices SET active = false, updated_at = now()
WHERE gateway_id = $1 AND active AND NOT (device_id = ANY($2::text[]))`,

    bindings: `
INSERT INTO ${s}.timeseries_binding AS b (gateway_id, device_id, point_id, measurement, unit)
SELECT $1, d, p, m, u FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(d, p, m, u)
ON CONFLICT (gateway_id, device_id, point_id) DO UPDATE
  SET measurement = excluded.measurement, unit = excluded.unit, active = true, updated_at = now()
WHERE (b.measurement, b.unit, b.active) IS DISTINCT FROM (excluded.measurement, excluded.unit, true)`,

    retireBindings: `
UPDATE ${s}.timeseries_binding b SET active = false, updated_at = now()
WHERE b.gateway_id = $1 AND b.active
  AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS x(d, p) WHERE x.d = b.device_id AND x.p = b.point_id)`,

    // Tags dropped from a point still configured go; a retired point keeps its last tags.
    dropTags: `
DELETE FROM ${s}.timeseries_binding_tag t
WHERE t.gateway_id = $1
  AND EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS x(d, p) WHERE x.d = t.device_id AND x.p = t.point_id)
  AND NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::text[], $6::text[]) AS y(d, p, k)
                  WHERE y.d = t.device_id AND y.p = t.point_id AND y.k = t.tag_key)`,

    tags: `
INSERT INTO ${s}.timeseries_binding_tag AS t (gateway_id, device_id, point_id, tag_key, tag_value)
SELECT $1, d, p, k, v FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(d, p, k, v)
ON CONFLICT (gateway_id, device_id, point_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value
WHERE t.tag_value IS DISTINCT FROM excluded.tag_value`,
  };
}
