// The stadion console: sign-in, the API client, the live feed and the
// views' frame. Every figure comes from the /v1 API with the signed-in
// key; a view or control the key may not use is hidden, as the API
// answers (403), never guessed from a role here.
import { Series } from './chart.js';
import { views } from './views.js';

const KEY = 'stadion.console.key';
const $ = (id) => document.getElementById(id);

export const state = { key: null, who: null, series: new Series(), view: null, current: null, lastTick: 0, busy: false, denied: new Set() };

// api sends one request with the key; it answers {status, ok, data, error}
// and never throws. A 401 signs out.
export async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + state.key };
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: 'no-store', credentials: 'omit', signal: AbortSignal.timeout(20000) });
  } catch (e) {
    return { status: 0, ok: false, data: null, error: 'the server did not answer (' + e.message + ')' };
  }
  if (res.status === 401 && state.key) {
    signOut('The server refused the key (unknown or revoked). Sign in again.');
    return { status: 401, ok: false, data: null, error: 'unauthorized' };
  }
  let data = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  const error = res.ok ? null : (data && (data.detail || data.title)) || res.statusText || String(res.status);
  return { status: res.status, ok: res.ok, data, error };
}
export const get = (path) => api('GET', path);

// image fetches an image with the key and returns a blob: URL (or null).
export async function image(path) {
  try {
    const res = await fetch(path, { headers: { Authorization: 'Bearer ' + state.key }, cache: 'no-store', credentials: 'omit', signal: AbortSignal.timeout(20000) });
    if (!res.ok) return null;
    return URL.createObjectURL(await res.blob());
  } catch { return null; }
}

let toastTimer = 0;
export function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), 5000);
}

// control makes a button of a kind of action (data-act); once the API
// refused that kind to this key, its buttons are born hidden.
export function control(kind, attrs, text) {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.act = kind;
  for (const [k, v] of Object.entries(attrs || {})) b.setAttribute(k, v);
  b.textContent = text;
  b.hidden = state.denied.has(kind);
  return b;
}

// act runs a control's request: the button is disabled meanwhile, the
// answer is told, and a 403 hides every control of that kind (the key may
// not; the API said so, the page does not guess from roles).
export async function act(button, method, path, body, done) {
  button.disabled = true;
  const r = await api(method, path, body);
  button.disabled = false;
  if (r.status === 403) {
    const kind = button.dataset.act;
    if (kind) {
      state.denied.add(kind);
      for (const b of document.querySelectorAll(`[data-act="${kind}"]`)) b.hidden = true;
    }
    button.hidden = true;
    toast('Not allowed with this key: ' + r.error);
  } else if (!r.ok) {
    toast(`${button.textContent} failed: ${r.error}`);
  } else if (done) {
    done(r);
  }
  refresh();
  return r;
}

async function signIn(key) {
  state.key = key;
  const r = await get('/v1/console');
  if (!r.ok) {
    state.key = null;
    $('signin-error').textContent = r.status === 401
      ? 'That key is not valid (unknown or revoked). Check it and try again.'
      : 'Signing in failed: ' + r.error;
    $('key').focus();
    return;
  }
  sessionStorage.setItem(KEY, key);
  state.who = r.data;
  $('key').value = '';
  $('signin-error').textContent = '';
  $('signin').hidden = true;
  $('who').textContent = `Signed in as ${r.data.client}${r.data.admin ? ' (admin)' : ''}`;
  $('signout').hidden = false;
  await probe();
  $('nav').hidden = false;
  const s = await get('/v1/console/series');
  if (s.ok) state.series.load(s.data);
  runFeed();
  show(location.hash.slice(1) || 'overview');
}

// probe hides the views whose API this key may not read.
async function probe() {
  const who = state.who;
  const room = who.rooms[0];
  const paths = {
    topics: '/v1/topics', sinks: '/v1/sinks', venues: '/v1/venues', capture: '/v1/capture/jobs',
    live: room ? '/v1/live/' + encodeURIComponent(room) : null,
  };
  await Promise.all(Object.entries(paths).map(async ([view, path]) => {
    if (who.configured && who.configured[view] === false) path = null; // not run by this server
    // Any room name allowed: no room to probe; the view asks for one.
    const ok = path ? (await get(path)).ok : view === 'live' && who.any_room && who.configured.live;
    document.querySelector(`nav [data-view="${view}"]`).hidden = !ok;
  }));
}

export function signOut(message) {
  sessionStorage.removeItem(KEY);
  state.key = null;
  state.who = null;
  state.denied.clear();
  if (state.feed) state.feed.abort();
  state.feed = null;
  state.current = null;
  $('view').replaceChildren();
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
  $('feed-state').textContent = '';
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('key').focus();
}

function show(name) {
  if (!views[name] || document.querySelector(`nav [data-view="${name}"]`).hidden) name = 'overview';
  state.view = name;
  for (const b of document.querySelectorAll('nav button')) {
    if (b.dataset.view === name) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  if (location.hash.slice(1) !== name) history.replaceState(null, '', '#' + name);
  $('toast').classList.remove('show');
  const root = $('view');
  root.replaceChildren();
  state.current = views[name](root);
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · stadion console`;
  refresh();
}

// refresh reloads the current view's figures (one at a time).
export async function refresh() {
  const v = state.current;
  if (!v || state.busy || !state.key) return;
  state.busy = true;
  try { await v.refresh(); } catch (e) { toast('Refreshing failed: ' + e.message); }
  state.busy = false;
  if (state.current === v && v.draw) v.draw();
}

// runFeed follows GET /v1/console/feed: a fetch whose streamed body has a
// line of JSON per sample. It reconnects with backoff until sign-out.
async function runFeed() {
  let backoff = 1000;
  const ctl = new AbortController();
  state.feed = ctl;
  while (state.feed === ctl && !ctl.signal.aborted) {
    try {
      const res = await fetch('/v1/console/feed', { headers: { Authorization: 'Bearer ' + state.key }, signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
      if (res.status === 401) { signOut('The server refused the key (unknown or revoked). Sign in again.'); return; }
      if (!res.ok) {
        let detail = res.statusText;
        try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
        feedState('Live updates paused: ' + detail);
      } else {
        feedState('● live');
        backoff = 1000;
        await readLines(res.body, onLine);
      }
    } catch {
      if (ctl.signal.aborted) return;
    }
    if (ctl.signal.aborted) return;
    feedState('Live updates reconnecting…');
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 30000);
  }
}

async function readLines(body, fn) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line) fn(JSON.parse(line));
    }
  }
}

function onLine(line) {
  if (!line.t) return; // the first line only says the step
  state.series.push(line.t, line.values);
  state.lastTick = Date.now();
  refresh();
}

function feedState(text) { $('feed-state').textContent = text; }

function init() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const k = $('key').value.trim();
    if (k) signIn(k);
  });
  $('signout').addEventListener('click', () => signOut('Signed out.'));
  for (const b of document.querySelectorAll('nav button')) {
    b.addEventListener('click', () => { show(b.dataset.view); $('main').focus(); });
  }
  window.addEventListener('hashchange', () => { if (state.key) show(location.hash.slice(1)); });
  // Without the feed (a proxy that buffers, the stream cap reached), poll.
  setInterval(() => { if (state.key && Date.now() - state.lastTick > 15000) refresh(); }, 10000);
  const saved = sessionStorage.getItem(KEY);
  if (saved) signIn(saved); else $('key').focus();
}

init();
