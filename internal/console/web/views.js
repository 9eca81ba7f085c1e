// The console's views. Each builds its frame once and answers
// {refresh(), draw()}: refresh reloads its figures from the API, draw
// redraws its charts from the series. Text from the API is only ever set
// as textContent (events, comments and names come from outside parties).
import { state, get, act, control, image, toast } from './app.js';
import { Chart, fmt } from './chart.js';

// h builds an element: h('button', {class: 'x', onclick: f, 'aria-label': 'y'}, 'text', child).
export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k != null) e.append(k instanceof Node ? k : String(k));
  return e;
}

const enc = encodeURIComponent;
const ago = (iso) => {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};
const bytes = (n) => (n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + ' GiB' : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B');
const badge = (text) => h('span', { class: 'badge state-' + String(text).replace(/[^a-z]/gi, '') }, text);

// notAllowed replaces a section's body when the key may not read it.
function notAllowed(section, r) {
  section.replaceChildren(h('p', { class: 'muted' }, r.status === 403 ? 'This key may not see this.' : r.status === 404 ? 'Not configured on this server.' : 'Could not load: ' + r.error));
}

// Table keeps one row per key across refreshes, so a focused button in a
// row stays focused while the figures change around it.
class Table {
  constructor(label, cols) {
    this.cols = cols;
    this.rows = new Map();
    this.body = h('tbody');
    this.el = h('div', { class: 'scroll' }, h('table', { 'aria-label': label },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: (c.num ? 'num ' : '') + (c.narrow ? 'hide-narrow' : '') }, c.title)))),
      this.body));
  }
  update(items, key) {
    const seen = new Set();
    let prev = null;
    for (const it of items) {
      const k = key(it);
      seen.add(k);
      let row = this.rows.get(k);
      if (!row) {
        row = { tr: h('tr'), item: it, cells: [] };
        for (const c of this.cols) {
          const td = h('td', { class: (c.num ? 'num ' : '') + (c.narrow ? 'hide-narrow' : '') });
          if (c.make) td.append(c.make(() => row.item, td));
          row.cells.push(td);
          row.tr.append(td);
        }
        this.rows.set(k, row);
      }
      row.item = it;
      this.cols.forEach((c, i) => {
        if (c.text) { const t = String(c.text(it)); if (row.cells[i].textContent !== t) row.cells[i].textContent = t; }
        if (c.sync) c.sync(it, row.cells[i]);
      });
      const want = prev ? prev.nextSibling : this.body.firstChild;
      if (want !== row.tr) this.body.insertBefore(row.tr, want);
      prev = row.tr;
    }
    for (const [k, row] of this.rows) if (!seen.has(k)) { row.tr.remove(); this.rows.delete(k); }
  }
}

function card(title, ...kids) {
  const id = 'h-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...kids);
}

function charts(list) { return { draw() { for (const c of list) c.draw(); } }; }

// ---- overview ----------------------------------------------------------

function overview(root) {
  const health = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const alerts = h('div');
  const s = state.series;
  const rates = new Chart(s, 'Events published per second by topic', () => s.ids('topic/', '/rate'), { unit: 'events/s' });
  const lags = new Chart(s, 'Sink lag', () => s.ids('sink/', '/lag'), { unit: 'events' });
  root.append(
    h('div', { class: 'cols' }, card('Health', health), card('Open alerts', alerts)),
    h('div', { class: 'cols' }, card('Live rates', rates.el), card('Lags', lags.el)));
  const list = [rates, lags];
  return {
    ...charts(list),
    async refresh() {
      const [hr, ar] = await Promise.all([get('/v1/health'), get('/v1/alerts')]);
      if (hr.ok) renderHealth(health, hr.data); else notAllowed(health, hr);
      if (ar.ok) renderAlerts(alerts, ar.data.alerts || []); else notAllowed(alerts, ar);
    },
  };
}

function renderHealth(el, hd) {
  // Risks come largest impact first: the checks that cost their site most.
  const sites = (hd.sites || []).map((site) => {
    const risks = (hd.risks || []).filter((r) => r.site === site.name);
    return h('div', { class: 'card' },
      h('h3', {}, h('span', { class: 'grade grade-' + site.grade }, site.grade), ` ${site.name} · ${fmt(site.score)}`),
      risks.length
        ? h('ul', { class: 'plain', 'aria-label': `High-risk items at ${site.name}` }, risks.slice(0, 5).map((r) =>
          h('li', {}, h('strong', {}, `${r.component} · ${r.check}`), ` (score ${fmt(r.score)}, −${fmt(r.impact)} points): ${r.detail || ''}`)))
        : h('p', { class: 'muted' }, 'No check below 100.'));
  });
  el.replaceChildren(
    h('p', {}, h('span', { class: 'big', 'aria-label': `Overall score ${fmt(hd.score)}, grade ${hd.grade}` }, fmt(hd.score), ' ', h('span', { class: 'grade grade-' + hd.grade }, hd.grade)),
      h('span', { class: 'muted' }, ` overall, ${ago(hd.at)}`)),
    h('div', { class: 'grid' }, sites));
}

function renderAlerts(el, list) {
  if (!list.length) { el.replaceChildren(h('p', { class: 'muted' }, 'No alert is firing.')); return; }
  el.replaceChildren(h('ul', { class: 'plain' }, list.map((a) =>
    h('li', {}, badge(a.severity), ' ', h('strong', {}, `${a.site} · ${a.component}`), ` ${a.summary} `, h('span', { class: 'muted' }, `since ${ago(a.starts_at)}`)))));
}

// ---- topics -------------------------------------------------------------

function topics(root) {
  const s = state.series;
  const sparks = [];
  const spark = (getItem, td) => {
    const c = new Chart(s, 'Rate of ' + getItem().name, () => [`topic/${getItem().name}/rate`], { spark: true });
    sparks.push(c);
    return c.el;
  };
  const detail = h('div');
  let open = null;
  const table = new Table('Topics', [
    { title: 'Topic', text: (t) => t.name },
    { title: 'Kind', text: (t) => t.kind, narrow: true },
    { title: 'Rate /s', num: true, text: (t) => fmt(s.latest(`topic/${t.name}/rate`)) },
    { title: 'Last hour', make: spark, narrow: true },
    { title: 'Events', num: true, text: (t) => fmt(t.events) },
    { title: 'Size', num: true, text: (t) => bytes(t.bytes), narrow: true },
    { title: 'Last seq', num: true, text: (t) => t.last_seq, narrow: true },
    { title: 'Subscribers', text: (t) => (t.subscribers || []).join(', ') || '–', narrow: true },
    { title: '', make: (item) => h('button', { type: 'button', class: 'secondary', 'aria-label': `Open topic ${item().name}`, onclick: () => { open = item().name; openTopic(detail, item().name); } }, 'Open') },
  ]);
  const subs = new Table('Subscriptions', [
    { title: 'Subscription', text: (x) => x.name },
    { title: 'Topic', text: (x) => x.topic },
    { title: 'Owner', text: (x) => x.owner || '–', narrow: true },
    { title: 'Pending', num: true, text: (x) => fmt(x.pending) },
    { title: 'Awaiting ack', num: true, text: (x) => fmt(x.ack_pending), narrow: true },
    { title: 'Lag trend', narrow: true, make: (item) => { const c = new Chart(s, 'Lag of ' + item().name, () => [`subscription/${item().name}/lag`], { spark: true }); sparks.push(c); return c.el; } },
    { title: 'Dead letters', make: (item) => deadLetters(`/v1/subscriptions/${enc(item().name)}`, item().name) },
  ]);
  const subsBox = h('div');
  root.append(card('Topics', table.el), detail, card('Subscriptions', subsBox));
  return {
    draw() { for (const c of sparks) c.draw(); if (detail.chart) detail.chart.draw(); },
    async refresh() {
      const [tr, sr] = await Promise.all([get('/v1/topics'), get('/v1/subscriptions')]);
      if (tr.ok) table.update(tr.data.topics, (t) => t.name); else notAllowed(table.el, tr);
      if (sr.ok) {
        if (!sr.data.subscriptions.length) subsBox.replaceChildren(h('p', { class: 'muted' }, 'No subscription visible to this key.'));
        else { subs.update(sr.data.subscriptions, (x) => x.name); if (!subsBox.contains(subs.el)) subsBox.replaceChildren(subs.el); }
      } else notAllowed(subsBox, sr);
      if (open && detail.refreshEvents) detail.refreshEvents();
    },
  };
}

// deadLetters is a subscription's or sink's dead-letter control: it
// loads their count on demand and offers a redrive.
function deadLetters(base, name) {
  const out = h('span', { class: 'muted' });
  const redrive = control('redrive', { class: 'secondary', 'aria-label': `Redrive the dead letters of ${name}` }, 'Redrive');
  redrive.hidden = true;
  const show = h('button', { type: 'button', class: 'secondary', 'aria-label': `Show the dead letters of ${name}` }, 'Dead letters');
  const load = async () => {
    const r = await get(base + '/dead-letters?limit=20');
    if (r.status === 403) { show.hidden = true; out.textContent = 'not allowed'; return; }
    if (!r.ok) { out.textContent = r.error; return; }
    const n = (r.data.dead_letters || r.data.events || []).length;
    out.textContent = n ? `${n}${n >= 20 ? '+' : ''} waiting ` : 'none ';
    redrive.hidden = !n || state.denied.has('redrive');
  };
  show.addEventListener('click', load);
  redrive.addEventListener('click', () => act(redrive, 'POST', base + '/dead-letters/redrive', {}, (r) => { toast(`Redrive of ${name}: ${JSON.stringify(r.data)}`); load(); }));
  return h('span', { class: 'actions' }, out, show, redrive);
}

async function openTopic(box, name) {
  const s = state.series;
  const chart = new Chart(s, `Events per second on ${name}`, () => [`topic/${name}/rate`], { unit: 'events/s' });
  const schema = h('pre', {}, 'Loading…');
  const events = h('div');
  const from = h('input', { id: 'replay-from', type: 'number', min: '0', inputmode: 'numeric', placeholder: 'seq' });
  const out = h('div', { 'aria-live': 'polite' });
  const replay = h('button', { type: 'button' }, 'Replay');
  replay.addEventListener('click', async () => {
    const r = await get(`/v1/topics/${enc(name)}/events?after_seq=${Math.max(0, Number(from.value || 1) - 1)}&limit=20`);
    if (!r.ok) { out.replaceChildren(h('p', { class: 'error' }, r.error)); return; }
    out.replaceChildren(eventList(r.data.events, `Replayed events of ${name}`));
  });
  const readers = h('ul', { class: 'plain', 'aria-label': `Subscribers of ${name} and their lag` });
  const title = `Topic ${name}`;
  const c = card(title,
    h('div', { class: 'cols' }, h('div', {}, chart.el, h('h3', {}, 'Subscribers and their lag'), readers), h('div', {}, h('h3', {}, 'Last events'), events)),
    h('h3', {}, 'Replay from a sequence number'),
    h('div', { class: 'row-form' }, h('label', { for: 'replay-from' }, 'From seq'), from, replay), out,
    h('details', {}, h('summary', {}, 'Schema'), schema));
  box.replaceChildren(c);
  box.chart = chart;
  box.refreshEvents = async () => {
    const t = await get(`/v1/topics/${enc(name)}`);
    if (!t.ok) { events.replaceChildren(h('p', { class: 'error' }, t.error)); return; }
    const r = await get(`/v1/topics/${enc(name)}/events?after_seq=${Math.max(0, t.data.last_seq - 5)}&limit=5`);
    if (r.ok) events.replaceChildren(r.data.events.length ? eventList(r.data.events.reverse(), `Last events of ${name}`) : h('p', { class: 'muted' }, 'No event yet.'));
    const [subs, sinks] = await Promise.all([get('/v1/subscriptions'), state.who.admin ? get('/v1/sinks') : null]);
    const rows = [];
    if (subs.ok) for (const x of subs.data.subscriptions) if (x.topic === name) rows.push(`subscription ${x.name} (${x.owner || '?'}): ${fmt(x.pending)} pending, ${fmt(x.ack_pending)} awaiting ack`);
    if (sinks && sinks.ok) for (const x of sinks.data.sinks) if (x.topic === name) rows.push(`sink ${x.name} → ${x.table}: lag ${fmt(x.lag)}, ${x.state}`);
    readers.replaceChildren(...(rows.length ? rows : ['none visible to this key']).map((r) => h('li', {}, r)));
    if (!schema.dataset.done) { schema.textContent = JSON.stringify(t.data.schema || 'no schema', null, 2); schema.dataset.done = '1'; }
  };
  await box.refreshEvents();
  c.querySelector('h2').setAttribute('tabindex', '-1');
  c.querySelector('h2').focus();
}

function eventList(list, label) {
  return h('ul', { class: 'plain', 'aria-label': label }, list.map((e) =>
    h('li', {}, h('strong', {}, `#${e.seq ?? ''} `), h('span', { class: 'muted' }, `${e.time || ''} ${e.subject || ''}`),
      h('pre', {}, JSON.stringify(e.data ?? e)))));
}

// ---- sinks --------------------------------------------------------------

function sinks(root) {
  const s = state.series;
  const sparks = [];
  const table = new Table('Sinks', [
    { title: 'Sink', text: (x) => x.name },
    { title: 'Topic → table', text: (x) => `${x.topic} → ${x.table}`, narrow: true },
    { title: 'State', sync: (x, td) => { if (td.textContent !== x.state) td.replaceChildren(badge(x.state)); } },
    { title: 'Rows /s', num: true, text: (x) => fmt(x.rows_per_sec) },
    { title: 'Lag', num: true, text: (x) => fmt(x.lag) },
    { title: 'Lag trend', narrow: true, make: (item) => { const c = new Chart(s, 'Lag of ' + item().name, () => [`sink/${item().name}/lag`], { spark: true }); sparks.push(c); return c.el; } },
    { title: 'Rows written', num: true, text: (x) => fmt(x.rows_written), narrow: true },
    { title: 'Last error', text: (x) => x.last_error || '–', narrow: true },
    {
      title: 'Actions', make: (item) => {
        const b = control('sink-pause', { class: 'secondary' }, 'Pause');
        b.addEventListener('click', () => {
          const x = item();
          act(b, 'POST', `/v1/sinks/${enc(x.name)}/${x.state === 'paused' ? 'resume' : 'pause'}`, {}, () => toast(`Sink ${x.name} ${x.state === 'paused' ? 'resumed' : 'paused'}`));
        });
        return h('span', { class: 'actions' }, b, deadLetters(`/v1/sinks/${enc(item().name)}`, item().name));
      },
      sync: (x, td) => {
        const b = td.querySelector('button');
        const label = x.state === 'paused' ? 'Resume' : 'Pause';
        if (b.textContent !== label) b.textContent = label;
        b.setAttribute('aria-label', `${label} sink ${x.name}`);
      },
    },
  ]);
  const rows = new Chart(s, 'Rows written per second', () => s.ids('sink/', '/rows'), { unit: 'rows/s' });
  const lags = new Chart(s, 'Sink lag', () => s.ids('sink/', '/lag'), { unit: 'events' });
  const box = h('div', {}, table.el);
  root.append(card('Sinks', box), h('div', { class: 'cols' }, card('Rows per second', rows.el), card('Lag', lags.el)));
  return {
    draw() { for (const c of [...sparks, rows, lags]) c.draw(); },
    async refresh() {
      const r = await get('/v1/sinks');
      if (r.ok) { table.update(r.data.sinks, (x) => x.name); if (!box.contains(table.el)) box.replaceChildren(table.el); } else notAllowed(box, r);
    },
  };
}

// ---- venues -------------------------------------------------------------

function venues(root) {
  const s = state.series;
  const grid = h('div', { class: 'grid' });
  const cards = new Map();
  const chart = new Chart(s, 'Admissions forwarded per minute by venue', () => s.ids('venue/', '/scans'), { scale: 60, unit: 'scans/min' });
  root.append(card('Venues', grid), card('Admissions per minute', chart.el));
  const sparks = [chart];
  return {
    draw() { for (const c of sparks) c.draw(); },
    async refresh() {
      const [r, perGate] = await Promise.all([get('/v1/venues'), admissionsPerGate()]);
      if (!r.ok) { notAllowed(grid, r); return; }
      for (const v of r.data.venues) {
        let c = cards.get(v.venue);
        if (!c) {
          const dl = h('dl', { class: 'kv' });
          const sp = new Chart(s, `Admissions per minute at ${v.venue}`, () => [`venue/${v.venue}/scans`], { spark: true, scale: 60 });
          sparks.push(sp);
          const link = h('span');
          const gates = h('div');
          c = { dl, link, gates, el: h('section', { class: 'card', 'aria-label': 'Venue ' + v.venue }, h('h3', {}, v.venue, ' ', link), dl, sp.el, gates) };
          cards.set(v.venue, c);
          grid.append(c.el);
        }
        c.link.replaceChildren(badge(v.link));
        const per = s.latest(`venue/${v.venue}/scans`);
        c.dl.replaceChildren(...[
          ['Backlog', fmt(v.backlog) + ' scans'], ['Last contact', ago(v.last_contact)], ['Admitted', fmt(v.admitted)],
          ['Rejected', fmt(v.rejected)], ['Admissions /min', fmt(per == null ? null : per * 60)],
          ['Config version', `${v.config_version_applied} applied of ${v.config_version}`], ['Last scan', ago(v.last_scan)],
        ].flatMap(([k, val]) => [h('dt', {}, k), h('dd', {}, val)]));
        if (perGate) {
          const gates = Object.entries(perGate.counts[v.venue] || {}).sort();
          c.gates.replaceChildren(h('h4', {}, 'Admissions per gate, last minute'), h('ul', { class: 'plain', 'aria-label': `Admissions per gate at ${v.venue}, last minute` },
            gates.length ? gates.map(([g, n]) => h('li', {}, `${g}: ${n}${perGate.capped ? '+' : ''}`)) : [h('li', { class: 'muted' }, 'none')]));
        }
      }
      if (!r.data.venues.length) grid.replaceChildren(h('p', { class: 'muted' }, 'No venue configured.'));
    },
  };
}

// admissionsPerGate counts the last minute's admissions (direction in)
// by venue and gate from the admissions topic, when this key may read it;
// at most 1,000 are read (capped then).
async function admissionsPerGate() {
  const r = await get('/v1/topics/admissions/events?since=1m&limit=1000');
  if (!r.ok) return null;
  const counts = {};
  for (const e of r.data.events) {
    const d = e.data || {};
    if (d.direction !== 'in' || typeof d.venue !== 'string' || typeof d.gate !== 'string') continue;
    const v = (counts[d.venue] ||= {});
    v[d.gate] = (v[d.gate] || 0) + 1;
  }
  return { counts, capped: r.data.events.length >= 1000 };
}

// ---- live rooms ---------------------------------------------------------

function live(root) {
  const s = state.series;
  const grid = h('div', { class: 'grid' });
  const rooms = state.who.rooms.slice();
  const chart = new Chart(s, 'Comments accepted and rejected per second', () => [...s.ids('live/accepted'), ...s.ids('live/rejected/')], { unit: 'comments/s' });
  const cards = new Map();
  root.append(card('Live rooms', grid), card('Comments per second', chart.el));
  const add = (room) => {
    if (cards.has(room)) return;
    const c = roomCard(room);
    cards.set(room, c);
    grid.append(c.el);
    c.refresh();
  };
  if (state.who.any_room) {
    // Every room name is allowed (rooms: ["*"]): open the ones to watch.
    const name = h('input', { id: 'room-name', pattern: '[A-Za-z0-9_-]+', maxlength: '64', placeholder: 'curling' });
    const open = h('button', { type: 'button' }, 'Open room');
    open.addEventListener('click', () => { const n = name.value.trim(); if (/^[A-Za-z0-9_-]{1,64}$/.test(n)) { add(n); name.value = ''; } else toast('A room name is letters, digits, - and _.'); });
    root.prepend(card('Open a room', h('div', { class: 'row-form' }, h('label', { for: 'room-name' }, 'Room'), name, open)));
  }
  for (const room of rooms) add(room);
  return {
    draw() { chart.draw(); },
    async refresh() {
      await Promise.all([...cards.values()].map((c) => c.refresh()));
    },
  };
}

function roomCard(room) {
  const id = 'room-' + room.replace(/[^a-z0-9-]/gi, '_');
  const dl = h('dl', { class: 'kv' });
  const rejected = h('ul', { class: 'plain', 'aria-label': `Rejections in ${room} by reason` });
  const select = h('select', { id: id + '-state' }, ['open', 'slow', 'closed'].map((v) => h('option', { value: v }, v)));
  const slow = h('input', { id: id + '-slow', value: '10s', size: '5', 'aria-label': `Slow mode interval in ${room}` });
  const apply = control('room-state', { 'aria-label': `Set the state of room ${room}` }, 'Set state');
  const pinText = h('textarea', { id: id + '-pin', rows: '2', maxlength: '280', placeholder: 'Message to pin' });
  const pin = control('room-pin', { 'aria-label': `Pin the message in ${room}` }, 'Pin');
  const unpin = control('room-pin', { class: 'secondary', 'aria-label': `Clear the pinned message in ${room}` }, 'Clear');
  const pinned = h('p', { class: 'muted' });
  const sync = () => { slow.hidden = select.value !== 'slow'; };
  select.addEventListener('change', sync);
  apply.addEventListener('click', () => {
    const body = { state: select.value };
    if (select.value === 'slow') body.slow = slow.value;
    act(apply, 'PUT', `/v1/live/${enc(room)}`, body, () => toast(`Room ${room} is now ${select.value}`));
  });
  pin.addEventListener('click', () => {
    const text = pinText.value.trim();
    if (!text) { toast('Write the message to pin first.'); return; }
    act(pin, 'PUT', `/v1/live/${enc(room)}/pinned`, { text }, () => { pinned.textContent = 'Pinned: ' + text; pinText.value = ''; });
  });
  unpin.addEventListener('click', () => act(unpin, 'DELETE', `/v1/live/${enc(room)}/pinned`, undefined, () => { pinned.textContent = 'No pinned message.'; }));
  const stateBadge = h('span');
  const el = h('section', { class: 'card', 'aria-label': 'Room ' + room },
    h('h3', {}, room, ' ', stateBadge), dl, h('h4', {}, 'Rejections by reason'), rejected,
    h('div', { class: 'row-form', 'data-act': 'room-state', hidden: state.denied.has('room-state') }, h('label', { for: id + '-state' }, 'State'), select, slow, apply),
    h('div', { class: 'row-form', 'data-act': 'room-pin', hidden: state.denied.has('room-pin') }, h('label', { for: id + '-pin' }, 'Pinned'), pinText, pin, unpin), pinned);
  let first = true;
  sync();
  return {
    el,
    async refresh() {
      const [r, p] = await Promise.all([get(`/v1/live/${enc(room)}`), first ? get(`/v1/live/${enc(room)}/pinned`) : null]);
      if (!r.ok) { notAllowed(dl, r); return; }
      const st = r.data.state || { state: 'open' };
      stateBadge.replaceChildren(badge(st.state + (st.slow ? ' ' + st.slow : '')));
      if (first) {
        select.value = st.state; if (st.slow) slow.value = st.slow; sync();
        if (p && p.ok) {
          const m = p.data.pinned;
          pinned.textContent = m == null ? 'No pinned message.' : 'Pinned: ' + (typeof m.text === 'string' ? m.text : JSON.stringify(m));
        }
        first = false;
      }
      dl.replaceChildren(...[
        ['Viewers', fmt(r.data.viewers)], ['Comments /s', fmt(r.data.comments_per_second)], ['Accepted', fmt(r.data.accepted)],
      ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
      const rej = Object.entries(r.data.rejected || {});
      rejected.replaceChildren(...(rej.length ? rej.map(([k, v]) => h('li', {}, `${k}: ${fmt(v)}`)) : [h('li', { class: 'muted' }, 'none')]));
    },
  };
}

// ---- capture ------------------------------------------------------------

function capture(root) {
  const s = state.series;
  const grid = h('div', { class: 'grid' });
  const cards = new Map();
  const chart = new Chart(s, 'Captures per second by job and result', () => s.ids('capture/'), { unit: 'captures/s' });
  root.append(card('Capture: newest frame of every job', grid), card('Captures', chart.el));
  return {
    draw() { chart.draw(); },
    async refresh() {
      const r = await get('/v1/capture/jobs');
      if (!r.ok) { notAllowed(grid, r); return; }
      if (!r.data.jobs.length) { grid.replaceChildren(h('p', { class: 'muted' }, 'No capture job.')); cards.clear(); return; }
      for (const j of r.data.jobs) {
        let c = cards.get(j.name);
        if (!c) {
          const img = h('img', { class: 'thumb', alt: `Newest frame of ${j.name}` });
          const dl = h('dl', { class: 'kv' });
          const trig = control('capture-trigger', { class: 'secondary', 'aria-label': `Capture a frame of ${j.name} now` }, 'Capture now');
          trig.addEventListener('click', () => act(trig, 'POST', `/v1/capture/jobs/${enc(j.name)}/trigger`, {}, () => toast(`Capture of ${j.name} asked`)));
          c = { img, dl, frame: '', el: h('figure', { class: 'card' }, img, h('figcaption', {}, h('h3', {}, j.name), dl, trig)) };
          cards.set(j.name, c);
          if (grid.firstChild && !grid.firstChild.classList.contains('card')) grid.replaceChildren();
          grid.append(c.el);
        }
        const latestId = j.latest ? JSON.stringify(j.latest.id || j.latest.at || j.latest) : '';
        if (latestId && latestId !== c.frame) {
          c.frame = latestId;
          const url = await image(`/v1/capture/jobs/${enc(j.name)}/latest`);
          if (url) { if (c.img.src.startsWith('blob:')) URL.revokeObjectURL(c.img.src); c.img.src = url; }
        }
        c.dl.replaceChildren(...[
          ['Tick to frame', `p50 ${fmt(j.latency_p50_ms)} ms, p99 ${fmt(j.latency_p99_ms)} ms`], ['Per minute', fmt(j.captures_per_min)],
          ['Captures', `${fmt(j.captures)} (failed ${fmt(j.failures)}, stale ${fmt(j.stale_ticks)})`], ['Last frame', ago(j.last_success)],
          ['Last error', j.last_error ? `${j.last_error} (${ago(j.last_error_at)})` : 'none'],
        ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
      }
    },
  };
}

export const views = { overview, topics, sinks, venues, live, capture };
