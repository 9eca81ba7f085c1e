// Hand-rolled SVG charts and the hour of series they draw (see
// docs/ARCHITECTURE.md, "The console": no charting library).
const SVG = 'http://www.w3.org/2000/svg';

// Series holds the hour of samples: times (Unix seconds) and, per series
// id, one value (or null) per time.
export class Series {
  constructor() { this.times = []; this.vals = new Map(); this.units = new Map(); this.max = 720; this.step = 5; }
  load(page) {
    this.times = page.times.slice();
    this.vals = new Map();
    for (const s of page.series) { this.vals.set(s.id, s.values.slice()); this.units.set(s.id, s.unit); }
    this.step = page.step || 5;
    this.max = Math.max(2, Math.round(3600 / this.step));
  }
  push(t, values) {
    this.times.push(t);
    for (const [id, arr] of this.vals) arr.push(id in values ? values[id] : null);
    for (const id of Object.keys(values)) {
      if (this.vals.has(id)) continue;
      const arr = new Array(this.times.length - 1).fill(null);
      arr.push(values[id]);
      this.vals.set(id, arr);
    }
    const extra = this.times.length - this.max;
    if (extra > 0) {
      this.times.splice(0, extra);
      for (const arr of this.vals.values()) arr.splice(0, extra);
    }
  }
  latest(id) {
    const a = this.vals.get(id);
    if (!a) return null;
    for (let i = a.length - 1; i >= 0; i--) if (a[i] != null) return a[i];
    return null;
  }
  ids(prefix, suffix = '') {
    return [...this.vals.keys()].filter((id) => id.startsWith(prefix) && id.endsWith(suffix)).sort();
  }
}

function el(name, attrs = {}) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

export function fmt(v) {
  if (v == null || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(a >= 10 ? 1 : 2);
}

// Chart draws series ids (a function, so new series appear) over the last
// hour; spark draws a small one without labels.
export class Chart {
  constructor(series, label, ids, { spark = false, scale = 1, unit = '' } = {}) {
    this.series = series; this.ids = ids; this.spark = spark; this.scale = scale; this.label = label; this.unit = unit;
    this.el = document.createElement('figure');
    this.el.className = spark ? 'spark-fig' : 'chart-fig';
    this.svg = el('svg', { class: spark ? 'chart spark' : 'chart', viewBox: '0 0 600 160', preserveAspectRatio: 'none', role: 'img' });
    this.el.appendChild(this.svg);
    if (!spark) {
      this.cap = document.createElement('figcaption');
      this.legend = document.createElement('ul');
      this.legend.className = 'legend';
      this.axis = document.createElement('div');
      this.axis.className = 'axis';
      this.axis.setAttribute('aria-hidden', 'true');
      this.el.append(this.axis, this.legend, this.cap);
    }
    this.draw();
  }
  draw() {
    const ids = this.ids();
    const t = this.series.times;
    const now = t.length ? t[t.length - 1] : Date.now() / 1000;
    // The last hour, or less while there is less: at least 5 minutes.
    const from = Math.max(now - 3600, Math.min(t.length ? t[0] : now, now - 300));
    const span = now - from;
    let top = 0;
    for (const id of ids) for (const v of this.series.vals.get(id) || []) if (v != null) top = Math.max(top, v * this.scale);
    top = top > 0 ? top * 1.15 : 1;
    this.svg.replaceChildren();
    if (!this.spark) for (const f of [0.25, 0.5, 0.75]) this.svg.appendChild(el('line', { class: 'grid-line', x1: 0, x2: 600, y1: 160 * f, y2: 160 * f, 'vector-effect': 'non-scaling-stroke' }));
    const latest = [];
    ids.forEach((id, i) => {
      const vals = this.series.vals.get(id) || [];
      let pts = [];
      const lines = [];
      vals.forEach((v, j) => {
        if (v == null || t[j] < from) { if (pts.length) lines.push(pts); pts = []; return; }
        pts.push(`${(((t[j] - from) / span) * 600).toFixed(1)},${(160 - (v * this.scale / top) * 156).toFixed(1)}`);
      });
      if (pts.length) lines.push(pts);
      for (const p of lines) {
        if (p.length === 1) p.push(p[0]);
        this.svg.appendChild(el('polyline', { class: 'c' + (i % 8), points: p.join(' '), 'vector-effect': 'non-scaling-stroke' }));
      }
      latest.push([id, this.series.latest(id)]);
    });
    const summary = latest.map(([id, v]) => `${short(id)} ${fmt(v == null ? null : v * this.scale)}`).join(', ');
    this.svg.setAttribute('aria-label', `${this.label}, last hour${summary ? ': now ' + summary : ': no data yet'}`);
    if (this.spark) return;
    this.legend.replaceChildren(...latest.map(([id, v], i) => {
      const li = document.createElement('li');
      li.className = 'c' + (i % 8);
      li.textContent = `${short(id)}: ${fmt(v == null ? null : v * this.scale)}`;
      return li;
    }));
    const mins = Math.round(span / 60);
    const half = Math.round(span / 12) / 10;
    this.axis.replaceChildren(...[`${mins} min ago`, `${half} min ago`, 'now'].map((x) => { const s = document.createElement('span'); s.textContent = x; return s; }));
    this.cap.textContent = ids.length
      ? `${this.label} (${this.unit || unitOf(this.series, ids[0])}), last ${mins} minutes; top of scale ${fmt(top)}`
      : `${this.label}: no series visible to this key yet.`;
    this.cap.className = 'muted';
  }
}

function unitOf(series, id) { return (id && series.units.get(id)) || ''; }

// short names a series in a legend: topic/results/rate -> results.
export function short(id) {
  const p = id.split('/');
  return p.length >= 3 ? p.slice(1, -1).join('/') + (p[0] === 'capture' || p[0] === 'live' ? '/' + p[p.length - 1] : '') : p.slice(1).join('/');
}
