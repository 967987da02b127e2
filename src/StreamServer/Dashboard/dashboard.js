// Ops dashboard: polls /metrics (Prometheus text) and /healthz, lists jobs from /api/vod, and follows
// /api/trace/events (server-sent events) with the admin token in an Authorization header (fetch
// streaming, so the token never lands in a URL or a log).
'use strict';

const POLL_MS = 2000;
const WINDOW = 150; // points kept per chart (5 minutes at 2 s)
const tokenInput = document.getElementById('token');
tokenInput.value = localStorage.getItem('streamserver.token') || '';
tokenInput.addEventListener('change', () => { localStorage.setItem('streamserver.token', tokenInput.value.trim()); followEvents(); });

// Parses Prometheus text into [{name, labels, value}].
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const kv of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

const sum = (samples, name, pred = () => true) =>
  samples.reduce((acc, s) => acc + (s.name === name && pred(s.labels) ? s.value : 0), 0);

function makeChart(el, series) {
  const opts = {
    width: Math.max(420, el.clientWidth), height: 200,
    scales: { x: { time: true } },
    series: [{}, ...series.map((label, i) => ({ label, stroke: ['#2563eb', '#dc2626', '#16a34a', '#9333ea'][i], width: 1.5 }))],
    axes: [{}, { size: 60 }],
  };
  const data = [[], ...series.map(() => [])];
  return { plot: new uPlot(opts, data, el), data };
}

const charts = {
  requests: makeChart(document.getElementById('chart-requests'), ['req/s']),
  bytes: makeChart(document.getElementById('chart-bytes'), ['sendfile', 'copy']),
  latency: makeChart(document.getElementById('chart-latency'), ['p50', 'p99', 'p999']),
  tcp: makeChart(document.getElementById('chart-tcp'), ['retransmits/s', 'skb allocs/s ÷1000']),
};

// Per-bucket counts of a histogram family since the previous poll (summed over every label set but le), bucket
// upper bounds ascending; plus the cumulative map to diff against next time.
function bucketDeltas(samples, family, prev) {
  const cumulative = new Map();
  for (const s of samples) {
    if (s.name !== family + '_bucket') continue;
    cumulative.set(s.labels.le, (cumulative.get(s.labels.le) || 0) + s.value);
  }
  const rows = [...cumulative.keys()].map(le => [le === '+Inf' ? Infinity : Number(le), cumulative.get(le) - (prev?.get(le) || 0)]);
  rows.sort((a, b) => a[0] - b[0]);
  const bounds = [], counts = [];
  let below = 0;
  for (const [le, c] of rows) { bounds.push(le); counts.push(Math.max(0, c - below)); below = Math.max(below, c); }
  return { bounds, counts, cumulative };
}

// A heatmap over time on a canvas: one column per poll, one row per bucket (log2 for the kernel's histograms), colour
// by count on a log scale (viridis), with the p99 and p999 of each column drawn over it.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(x) {
  const f = Math.min(0.9999, Math.max(0, x)) * (VIRIDIS.length - 1), i = Math.floor(f), t = f - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * t)).join(',')})`;
}
function makeHeatmap(canvas) { return { canvas, columns: [], bounds: [] }; }
function pushHeat(heat, deltas) {
  if (deltas.bounds.length > heat.bounds.length) heat.bounds = deltas.bounds;
  heat.columns.push(deltas.counts);
  if (heat.columns.length > WINDOW) heat.columns.shift();
  drawHeat(heat);
}
// The upper bound (ms) of the bucket holding the q-quantile of one poll's deltas; null without data or past the last bound.
function quantileMs(deltas, q) {
  const row = rankRow(deltas.counts, q);
  const le = row === null ? Infinity : deltas.bounds[row];
  return Number.isFinite(le) ? le * 1000 : null;
}
function rankRow(counts, q) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) { seen += counts[i]; if (seen >= q * total) return i; }
  return counts.length - 1;
}
function drawHeat(heat) {
  const { canvas, columns, bounds } = heat, ctx = canvas.getContext('2d');
  const left = 58, bottom = 4, rows = bounds.length;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!rows) return;
  const w = (canvas.width - left) / WINDOW, h = (canvas.height - bottom) / rows;
  let max = 0;
  for (const col of columns) for (const c of col) max = Math.max(max, c);
  const x0 = canvas.width - columns.length * w;
  columns.forEach((col, x) => col.forEach((c, y) => {
    if (c <= 0) return;
    ctx.fillStyle = viridis(Math.log1p(c) / Math.log1p(max));
    ctx.fillRect(x0 + x * w, canvas.height - bottom - (y + 1) * h, Math.ceil(w), Math.ceil(h));
  }));
  ctx.fillStyle = '#374151'; ctx.font = '10px sans-serif'; ctx.textAlign = 'right';
  for (let y = 0; y < rows; y += Math.max(1, Math.ceil(rows / 8))) {
    const le = bounds[y];
    const label = !Number.isFinite(le) ? '+Inf' : le >= 1 ? le.toFixed(1) + ' s' : le >= 1e-3 ? (le * 1e3).toFixed(1) + ' ms' : (le * 1e6).toFixed(0) + ' µs';
    ctx.fillText(label, left - 4, canvas.height - bottom - y * h - 2);
  }
  for (const [q, colour] of [[0.99, '#111827'], [0.999, '#db2777']]) {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    columns.forEach((col, x) => {
      const row = rankRow(col, q);
      if (row === null) { started = false; return; }
      const px = x0 + (x + 0.5) * w, py = canvas.height - bottom - (row + 0.5) * h;
      if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; }
    });
    ctx.stroke();
  }
}
const heatmaps = {
  send: makeHeatmap(document.getElementById('heat-send')),
  request: makeHeatmap(document.getElementById('heat-request')),
};

function push(chart, t, values) {
  chart.data[0].push(t);
  values.forEach((v, i) => chart.data[i + 1].push(v));
  if (chart.data[0].length > WINDOW) chart.data.forEach(a => a.shift());
  chart.plot.setData(chart.data);
}

let previous = null;
async function pollMetrics() {
  const text = await (await fetch('/metrics', { cache: 'no-store' })).text();
  const samples = parseMetrics(text);
  const now = Date.now() / 1000;
  const current = {
    t: now,
    requests: sum(samples, 'streamserver_http_requests_total'),
    sendfile: sum(samples, 'streamserver_http_response_bytes_total', l => l.path === 'sendfile'),
    copy: sum(samples, 'streamserver_http_response_bytes_total', l => l.path === 'copy'),
    retrans: sum(samples, 'streamserver_tcp_retransmits_total'),
    skb: sum(samples, 'streamserver_skb_alloc_total'),
  };
  const send = bucketDeltas(samples, 'streamserver_send_syscall_duration_seconds', previous?.sendBuckets);
  const request = bucketDeltas(samples, 'streamserver_http_request_duration_seconds', previous?.requestBuckets);
  current.sendBuckets = send.cumulative;
  current.requestBuckets = request.cumulative;
  if (previous) {
    const dt = current.t - previous.t;
    const rate = k => Math.max(0, (current[k] - previous[k]) / dt);
    push(charts.requests, now, [rate('requests')]);
    push(charts.bytes, now, [rate('sendfile') / 1048576, rate('copy') / 1048576]);
    push(charts.latency, now, [quantileMs(send, 0.5), quantileMs(send, 0.99), quantileMs(send, 0.999)]);
    pushHeat(heatmaps.send, send);
    pushHeat(heatmaps.request, request);
    push(charts.tcp, now, [rate('retrans'), rate('skb') / 1000]);
  }
  previous = current;
}

function cell(row, text) { const td = row.insertCell(); td.textContent = text ?? ''; return td; }

async function pollHealth() {
  const health = await (await fetch('/healthz', { cache: 'no-store' })).json();
  const badge = document.getElementById('health');
  badge.textContent = health.status;
  badge.className = 'badge ' + health.status;
  const body = document.querySelector('#subsystems tbody');
  body.replaceChildren();
  for (const [name, s] of Object.entries(health.subsystems)) {
    const row = body.insertRow();
    cell(row, name); cell(row, s.status); cell(row, s.reason);
  }
}

async function pollJobs() {
  const token = tokenInput.value.trim();
  if (!token) return;
  const response = await fetch('/api/vod', { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
  if (!response.ok) return;
  const body = document.querySelector('#jobs tbody');
  body.replaceChildren();
  for (const job of await response.json()) {
    const row = body.insertRow();
    cell(row, job.id); cell(row, job.state); cell(row, job.progress + ' %'); cell(row, job.fps); cell(row, job.speed + '×');
    const last = cell(row, job.error);
    if (job.urls) {
      const a = document.createElement('a');
      a.href = job.urls.master; a.textContent = 'master.m3u8';
      last.append(a);
    }
  }
}

// Retransmits per flow (local -> remote), from the live events: the flows that lose the most, first.
const flows = new Map();
function countFlow(e) {
  const key = e.local + ' ' + e.remote;
  const f = flows.get(key) || { local: e.local, remote: e.remote, segments: 0 };
  f.segments += e.segments; f.state = e.state; f.srtt = e.srttUs / 1000; f.last = new Date().toLocaleTimeString();
  flows.set(key, f);
  const body = document.querySelector('#flows tbody');
  body.replaceChildren();
  for (const f of [...flows.values()].sort((a, b) => b.segments - a.segments).slice(0, 10)) {
    const row = body.insertRow();
    cell(row, f.local); cell(row, f.remote); cell(row, f.segments); cell(row, f.state); cell(row, f.srtt.toFixed(1)); cell(row, f.last);
  }
}

// "Download PNG": the server renders the chart (/api/trace/charts, bearer token), the browser saves it.
for (const button of document.querySelectorAll('button[data-chart]')) {
  button.addEventListener('click', async () => {
    const status = document.getElementById('download-status');
    const token = tokenInput.value.trim();
    if (!token) { status.textContent = 'enter the admin token first'; return; }
    const name = button.dataset.chart + '.png';
    const response = await fetch('/api/trace/charts/' + name + '?window=10m&width=1200&height=400', { headers: { Authorization: 'Bearer ' + token } });
    if (!response.ok) { status.textContent = name + ': HTTP ' + response.status; return; }
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement('a');
    a.href = url; a.download = name; a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    status.textContent = 'saved ' + name;
  });
}

let eventsAbort = null;
async function followEvents() {
  eventsAbort?.abort();
  const token = tokenInput.value.trim();
  const status = document.getElementById('events-status');
  if (!token) return;
  eventsAbort = new AbortController();
  try {
    const response = await fetch('/api/trace/events', { headers: { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' }, signal: eventsAbort.signal });
    if (!response.ok) { status.textContent = 'events: HTTP ' + response.status; return; }
    status.textContent = 'following live events';
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const list = document.getElementById('events');
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split('\n').filter(l => l.startsWith('data:')).map(l => l.slice(5).trim()).join('\n');
        const type = (frame.split('\n').find(l => l.startsWith('event:')) || 'event: message').slice(6).trim();
        if (!data) continue;
        if (type === 'retransmit') countFlow(JSON.parse(data));
        const li = document.createElement('li');
        li.textContent = new Date().toLocaleTimeString() + '  ' + type + '  ' + data;
        list.prepend(li);
        while (list.children.length > 200) list.lastChild.remove();
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') status.textContent = 'events: ' + e.message;
  }
}

async function tick() {
  await Promise.allSettled([pollMetrics(), pollHealth(), pollJobs()]);
  setTimeout(tick, POLL_MS);
}
tick();
followEvents();
