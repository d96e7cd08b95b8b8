/* The status page: fetches /status every few seconds and draws it. Plain browser JavaScript, no
 * build step. Every value is put in with textContent, never as HTML. Ages are computed against
 * the gateway's own clock (`now` in /status), not the phone's. */
/* global document, window, fetch, sessionStorage, setTimeout, clearTimeout, URL, URLSearchParams, Blob */
'use strict';

const REFRESH_MS = 5000;
const TOKEN_KEY = 'edge-agent-token';

let timer;
let lastOk = null; // { status, fetchedAt }

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('data-')) el.setAttribute(k, String(v));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof window.Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function age(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function ago(ts, now) {
  return ts === null || ts === undefined ? 'never' : `${age(now - ts)} ago`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i += 1;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function value(v, unit) {
  if (v === null || v === undefined) return '—';
  const text = typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : v;
  return unit ? `${text} ${unit}` : text;
}

const STATE_TEXT = { ok: 'OK', failing: 'Not answering', waiting: 'Waiting for first poll', stalled: 'Poll hung' };

function badge(kind, text) {
  return h('span', { class: `badge ${kind}` }, text);
}

function renderWrites(status) {
  const list = document.getElementById('writes');
  if (list === null) return;
  list.replaceChildren();
  const writes = status.writes ?? [];
  if (writes.length === 0) {
    list.append(h('li', { class: 'none' }, 'No writes to devices'));
    return;
  }
  for (const w of writes) {
    list.append(
      h(
        'li',
        { class: `write ${w.outcome === 'verified' ? 'info' : 'warning'}`, 'data-write': w.id },
        badge(w.outcome === 'verified' ? 'info' : 'warning', w.outcome),
        ' ',
        h('strong', {}, `${w.device} / ${w.point}`),
        ` = ${String(w.requested)}`,
        w.readback !== null ? h('span', { class: 'muted' }, ` (read back ${String(w.readback)})`) : null,
        w.code !== null ? h('span', { class: 'muted' }, ` · ${w.code}`) : null,
        h('span', { class: 'muted' }, ` · by ${w.by} (${w.origin}) · ${ago(w.requestedAt, status.now)}`),
      ),
    );
  }
}

function renderAlerts(status) {
  const list = document.getElementById('alerts');
  list.replaceChildren();
  if (status.alerts.length === 0) {
    list.append(h('li', { class: 'none' }, 'No active alerts'));
    return;
  }
  const order = { critical: 0, warning: 1, info: 2 };
  const alerts = [...status.alerts].sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3) || a.since - b.since);
  for (const a of alerts) {
    list.append(
      h(
        'li',
        { class: `alert ${a.severity}`, 'data-alert': a.id },
        badge(a.severity, a.severity),
        ' ',
        h('strong', {}, `${a.deviceId} / ${a.pointId}`),
        ': ',
        a.message,
        a.value !== undefined ? h('span', { class: 'muted' }, ` (${value(a.value, a.unit)})`) : null,
        h('span', { class: 'muted' }, ` · since ${ago(a.since, status.now)}`),
        a.acknowledged ? h('span', { class: 'muted' }, ' · acknowledged') : null,
      ),
    );
  }
}

function renderDevice(d, now) {
  const health = d.health;
  const facts = [];
  if (d.schedule) facts.push(d.schedule);
  if (health) {
    facts.push(`last poll ${ago(health.lastPollAt, now)}`);
    if (health.lastLatencyMs !== null) facts.push(`took ${health.lastLatencyMs} ms`);
    if (health.pollingSince !== null && now - health.pollingSince > 5000) facts.push(`polling for ${age(now - health.pollingSince)}`);
    if (health.consecutiveFailures > 0) facts.push(`${health.consecutiveFailures} failed polls in a row`);
  }
  const rows = d.points.map((p) => {
    const series = p.series ? Object.entries(p.series).map(([k, v]) => `${k}=${v}`).join(' ') : '';
    const trend = trendOf(d.id, p);
    const row = h(
      'tr',
      { 'data-point': p.id, class: p.quality === 'bad' ? 'bad' : undefined, 'data-trend': trend ? '' : undefined },
      h('th', { scope: 'row' }, p.id, series ? h('span', { class: 'muted' }, ` ${series}`) : null),
      h('td', { class: 'value' }, value(p.value, p.unit), trend ? sparkline(trend) : null),
      h('td', {}, p.quality === null ? badge('none', 'no data') : badge(p.quality, p.quality), p.error ? h('span', { class: 'muted code' }, ` ${p.error}`) : null),
      h('td', { class: 'age' }, p.ts === null ? '—' : ago(p.ts, now)),
    );
    if (trend) row.addEventListener('click', () => openTrend(trend));
    return row;
  });
  return h(
    'article',
    { class: `device ${d.state}`, 'data-device': d.id, 'data-state': d.state },
    h('h3', {}, d.id, ' ', badge(d.state, STATE_TEXT[d.state] || d.state), h('span', { class: 'muted driver' }, ` ${d.driver}`)),
    h('p', { class: 'facts muted' }, facts.join(' · ')),
    health && health.lastError && health.consecutiveFailures > 0 ? h('p', { class: 'error code' }, health.lastError) : null,
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Point'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Quality'), h('th', { scope: 'col' }, 'Age'))),
      h('tbody', {}, rows),
    ),
  );
}

function renderDelivery(status) {
  const box = document.getElementById('delivery');
  box.replaceChildren();
  const b = status.buffer;
  box.append(
    h(
      'p',
      { 'data-buffer': '' },
      b === null
        ? 'Buffer not open'
        : [`${b.rows.toLocaleString()} rows buffered (${bytes(b.bytes)})`, b.held > 0 ? ` · ${b.held} waiting for a trusted clock` : '', b.dropped > 0 ? ` · ${b.dropped.toLocaleString()} dropped` : ''],
    ),
  );
  if (status.clock && !status.clock.trusted) {
    box.append(h('p', { class: 'error', 'data-clock': '' }, `The gateway's clock is not trusted yet${status.clock.reason ? ` (${status.clock.reason})` : ''}: new points wait in the buffer until it is.`));
  }
  if (status.sinks.length === 0) {
    box.append(h('p', { class: 'muted' }, 'No sink configured: points stay in the buffer until one is.'));
    return;
  }
  for (const s of status.sinks) {
    // A configuration-class failure (wrong password, missing database, privilege…) carries its fix.
    const refused = !s.reachable && s.lastError && s.lastError.fix;
    const state = s.reachable === null ? badge('none', 'not tried yet') : s.reachable ? badge('ok', 'reachable') : refused ? badge('failing', 'refused: needs a fix') : badge('failing', 'unreachable');
    const facts = [
      `${s.pending.toLocaleString()} rows to send`,
      s.lagSeconds > 0 ? `${age(s.lagSeconds * 1000)} behind` : 'caught up',
      `last delivery ${ago(s.lastDeliveryAt, status.now)}`,
      s.deadLetters > 0 ? `${s.deadLetters} dead letters` : null,
      s.dropped > 0 ? `${s.dropped.toLocaleString()} dropped` : null,
    ].filter(Boolean);
    box.append(
      h(
        'article',
        { class: 'sink', 'data-sink': s.name, 'data-reachable': String(s.reachable) },
        h('h3', {}, s.name, ' ', state),
        h('p', { class: 'facts muted' }, facts.join(' · ')),
        s.lastError && !s.reachable ? h('p', { class: 'error code' }, `${s.lastError.code}: ${s.lastError.message}`) : null,
        refused ? h('p', { class: 'error', 'data-sink-fix': s.lastError.code }, `Fix: ${s.lastError.fix}`) : null,
      ),
    );
  }
}

const LINK_TEXT = { disabled: 'not configured', connecting: 'connecting', online: 'online', offline: 'offline' };
const LINK_BADGE = { disabled: 'none', connecting: 'waiting', online: 'ok', offline: 'failing' };
const APPLY_TEXT = { applied: 'applied', 'rolled-back': 'rolled back', interrupted: 'interrupted by a restart' };

function renderCentral(status) {
  const box = document.getElementById('central');
  box.replaceChildren();
  const c = status.central;
  if (!c) return;
  const facts = [];
  if (c.url) facts.push(c.url);
  if (c.state === 'online' && c.since) facts.push(`connected ${ago(c.since, status.now)}`);
  if (c.state !== 'online' && c.state !== 'disabled') {
    facts.push(`last connected ${ago(c.lastConnectedAt, status.now)}`);
    if (c.attempts > 0) facts.push(`${c.attempts} failed attempt${c.attempts === 1 ? '' : 's'}`);
    if (c.retryInMs !== null && c.retryInMs !== undefined) facts.push(`retrying every ${age(c.retryInMs)} or so`);
  }
  if (c.rev !== null && c.rev !== undefined) facts.push(`config rev ${c.rev}${c.origin === 'pushed' ? ' (pushed)' : ' (local file)'}`);
  const a = c.lastApply;
  box.append(
    h(
      'article',
      { class: 'link', 'data-central': c.state },
      h('h3', {}, 'Uplink ', badge(LINK_BADGE[c.state] || 'none', LINK_TEXT[c.state] || c.state)),
      facts.length > 0 ? h('p', { class: 'facts muted' }, facts.join(' · ')) : null,
      c.state === 'disabled' ? h('p', { class: 'muted' }, 'central.url is not set: this gateway is managed locally only.') : null,
      c.lastError && c.state !== 'online' ? h('p', { class: 'error code', 'data-central-error': c.lastError.code }, `${c.lastError.code}: ${c.lastError.message}`) : null,
      a
        ? h(
            'p',
            { class: a.outcome === 'applied' ? 'facts' : 'error', 'data-last-apply': a.outcome },
            `Last push: rev ${a.rev} ${APPLY_TEXT[a.outcome] || a.outcome} ${ago(a.at, status.now)}`,
            a.reason ? ` — ${a.reason}` : '',
          )
        : null,
    ),
  );
}

function render(status) {
  document.getElementById('gateway').textContent = status.gateway.id;
  document.getElementById('site').textContent = status.gateway.site !== status.gateway.id ? status.gateway.site : '';
  document.title = `${status.gateway.id} · edge-agent`;
  const failing = status.devices.filter((d) => d.state === 'failing' || d.state === 'stalled').length;
  document.getElementById('summary').textContent = [
    `${status.devices.length} device${status.devices.length === 1 ? '' : 's'}`,
    failing > 0 ? `${failing} not answering` : 'all answering',
    `${status.alerts.length} alert${status.alerts.length === 1 ? '' : 's'}`,
    `updated ${new Date(status.now).toLocaleTimeString()}`,
  ].join(' · ');
  renderAlerts(status);
  renderWrites(status);
  const devices = document.getElementById('devices');
  devices.replaceChildren(...status.devices.map((d) => renderDevice(d, status.now)));
  if (status.devices.length === 0) devices.append(h('p', { class: 'muted' }, 'No devices configured.'));
  renderDelivery(status);
  renderCentral(status);
  document.getElementById('footer').textContent = `edge-agent ${status.version} · ${status.phase} · up ${age(status.uptimeSeconds * 1000)}`;
  const banner = document.getElementById('banner');
  if (!status.progress.ok) showBanner('The agent is not making progress: ' + status.progress.stalled.map((s) => `${s.loop} ${s.subject}`).join(', '));
  else banner.hidden = true;
}

/* Trends: a sparkline per numeric point (the last TREND_MINUTES, from GET /history) and a larger
 * chart (uPlot, served by the agent) on tap, with a CSV download of what it shows. */
const TREND_MINUTES = Number(new URLSearchParams(window.location.search).get('trend')) || 60;
const trends = new Map(); // key → { device, point, series, unit, data, fetchedAt, canvas }

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function trendOf(deviceId, p) {
  if (typeof p.value !== 'number' && typeof p.value !== 'boolean') return null;
  const series = p.series ? JSON.stringify(p.series) : '';
  const key = `${deviceId}\u0000${p.id}\u0000${series}`;
  let t = trends.get(key);
  if (!t) {
    t = { key, device: deviceId, point: p.id, series, unit: p.unit || '', data: null, fetchedAt: 0, canvas: null };
    trends.set(key, t);
  }
  return t;
}

function historyUrl(t, minutes) {
  const q = new URLSearchParams({ device: t.device, point: t.point, minutes: String(minutes) });
  if (t.series) q.set('series', t.series);
  return `history?${q}`;
}

async function fetchHistory(t, minutes) {
  const res = await fetch(historyUrl(t, minutes), { cache: 'no-store', headers: authHeaders() });
  if (!res.ok) throw new Error(`history: HTTP ${res.status}`);
  return res.json();
}

function sparkline(t) {
  const canvas = h('canvas', { class: 'spark', width: 192, height: 48, 'aria-hidden': 'true', 'data-spark': t.point });
  t.canvas = canvas;
  drawSpark(t);
  return canvas;
}

function drawSpark(t) {
  const c = t.canvas;
  if (!c || !t.data) return;
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  const b = t.data.buckets;
  c.setAttribute('data-n', String(b.length));
  if (b.length === 0) return;
  const now = t.data.now;
  const from = now - TREND_MINUTES * 60000;
  let lo = Math.min(...b.map((x) => x.min));
  let hi = Math.max(...b.map((x) => x.max));
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const x = (ts) => ((ts - from) / (now - from)) * (c.width - 4) + 2;
  const y = (v) => c.height - 3 - ((v - lo) / (hi - lo)) * (c.height - 6);
  const style = window.getComputedStyle(c);
  ctx.fillStyle = style.getPropertyValue('--line') || '#ddd';
  for (const k of b) ctx.fillRect(x(k.ts), y(k.max), Math.max(1, x(k.ts + t.data.step * 1000) - x(k.ts)), Math.max(1, y(k.min) - y(k.max)));
  ctx.strokeStyle = style.color || '#111';
  ctx.lineWidth = 2;
  ctx.beginPath();
  b.forEach((k, i) => (i === 0 ? ctx.moveTo(x(k.ts), y(k.avg)) : ctx.lineTo(x(k.ts), y(k.avg))));
  ctx.stroke();
}

/** Fetches the sparklines whose data is older than a step (and at least the page refresh). */
async function refreshTrends(now) {
  const due = [...trends.values()].filter((t) => t.canvas && t.canvas.isConnected && Date.now() - t.fetchedAt >= Math.max(REFRESH_MS - 500, (t.data ? t.data.step * 1000 : 0)));
  await Promise.all(
    due.map(async (t) => {
      try {
        t.data = { ...(await fetchHistory(t, TREND_MINUTES)), now };
        t.fetchedAt = Date.now();
        drawSpark(t);
      } catch {
        // The sparkline keeps what it had; the status banner tells of a lost agent.
      }
    }),
  );
}

const WINDOWS = [
  ['1 h', 60],
  ['6 h', 360],
  ['24 h', 1440],
  ['7 d', 10080],
];
let chart = null;
let chartTrend = null;

function openTrend(t) {
  chartTrend = t;
  const dialog = document.getElementById('trend');
  document.getElementById('trend-title').textContent = `${t.device} / ${t.point}${t.series ? ` ${t.series}` : ''}`;
  const bar = document.getElementById('trend-windows');
  bar.replaceChildren(...WINDOWS.map(([label, minutes]) => {
    const b = h('button', { type: 'button', 'data-minutes': minutes }, label);
    b.addEventListener('click', () => void showTrend(t, minutes));
    return b;
  }));
  if (!dialog.open) dialog.showModal();
  void showTrend(t, Math.min(TREND_MINUTES, 10080));
}

async function showTrend(t, minutes) {
  for (const b of document.querySelectorAll('#trend-windows button')) b.setAttribute('aria-pressed', String(Number(b.getAttribute('data-minutes')) === minutes));
  const box = document.getElementById('trend-chart');
  const facts = document.getElementById('trend-facts');
  let data;
  try {
    data = await fetchHistory(t, minutes);
  } catch (err) {
    facts.textContent = err.message;
    return;
  }
  if (chartTrend !== t) return;
  const b = data.buckets;
  const unit = data.unit || '';
  facts.textContent = `${b.length} buckets of ${age(data.step * 1000)}${unit ? ` · ${unit}` : ''}`;
  box.setAttribute('data-buckets', String(b.length));
  const csv = ['time,ts,min,avg,max,n', ...b.map((k) => `${new Date(k.ts).toISOString()},${k.ts},${k.min},${k.avg},${k.max},${k.n}`)].join('\n') + '\n';
  const link = document.getElementById('trend-csv');
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
  link.download = `${t.device}-${t.point}-${minutes}min.csv`;
  if (chart) chart.destroy();
  chart = null;
  box.replaceChildren();
  if (!window.uPlot) {
    box.append(h('p', { class: 'muted' }, 'The chart library (uplot) is missing from this install; the CSV has the data.'));
    return;
  }
  const cols = [b.map((k) => k.ts / 1000), b.map((k) => k.min), b.map((k) => k.avg), b.map((k) => k.max)];
  const style = window.getComputedStyle(document.body);
  const fg = style.color;
  const muted = style.getPropertyValue('--muted') || '#888';
  chart = new window.uPlot(
    {
      width: Math.max(240, box.clientWidth || 320),
      height: 240,
      scales: { x: { time: true } },
      axes: [{ stroke: fg }, { stroke: fg, label: unit }],
      series: [{}, { label: 'min', stroke: muted, width: 1 }, { label: 'avg', stroke: fg, width: 2 }, { label: 'max', stroke: muted, width: 1 }],
    },
    cols,
    box,
  );
  window.edgeChart = chart; // for a look from the console (and the browser test)
}

document.getElementById('trend-close').addEventListener('click', () => {
  document.getElementById('trend').close();
});
document.getElementById('trend').addEventListener('close', () => {
  chartTrend = null;
});

function showBanner(text) {
  const banner = document.getElementById('banner');
  banner.textContent = text;
  banner.hidden = false;
}

async function refresh() {
  clearTimeout(timer);
  const token = sessionStorage.getItem(TOKEN_KEY);
  try {
    const res = await fetch('status', { cache: 'no-store', headers: token ? { Authorization: `Bearer ${token}` } : {} });
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      document.getElementById('login').hidden = false;
      document.getElementById('summary').textContent = 'Access token needed';
      return; // no refresh until a token is given
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const status = await res.json();
    document.getElementById('login').hidden = true;
    lastOk = { status, fetchedAt: Date.now() };
    document.body.classList.remove('stale');
    render(status);
    void refreshTrends(status.now);
  } catch (err) {
    const since = lastOk ? ` — showing what it said ${age(Date.now() - lastOk.fetchedAt)} ago` : '';
    showBanner(`Cannot reach the agent (${err.message})${since}`);
    document.body.classList.add('stale');
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

document.getElementById('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
  void refresh();
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void refresh();
});
void refresh();
