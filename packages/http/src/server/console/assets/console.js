// @ts-check
// The console's page: follows the system's status over Server-Sent Events and calls the console's API with the
// operator's bearer token. Everything shown is set as text, never parsed as HTML.

const api = document.body.dataset.api ?? '/_myelin/api';
const tokenKey = 'myelin.console.token';

/** @param {string} id */
function element(id) {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The page has no #${id}`);
  return found;
}

/**
 * @param {string} tag
 * @param {{ text?: string, className?: string, title?: string }} [options]
 * @param {(Node | string)[]} [children]
 */
function h(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.text !== undefined) node.textContent = options.text;
  if (options.className !== undefined) node.className = options.className;
  if (options.title !== undefined) node.title = options.title;
  node.append(...children);
  return node;
}

// A token handed over in the address's fragment (never sent to a server) is kept for this tab, then removed from
// the address so that it is neither bookmarked nor shared.
const fragment = new URLSearchParams(location.hash.slice(1));
const handed = fragment.get('token');
if (handed !== null && handed !== '') {
  sessionStorage.setItem(tokenKey, handed);
  history.replaceState(null, '', location.pathname + location.search);
}

/** How long to wait before reopening a refused stream; doubles with each refusal, back to a second once live. */
let reopenMs = 1000;
/** @type {EventSource | undefined} */
let source;
/** The last figures of each subscription, for its throughput. @type {Map<string, { handled: number, at: number }>} */
const previous = new Map();
/** @type {Map<string, number>} */
const rates = new Map();
let parkedSeen = -1;
/** The latest erasure listed (undefined: none yet). @type {string | undefined | null} */
let erasureSeen = null;

function token() {
  return sessionStorage.getItem(tokenKey);
}

/** @param {string | undefined} message */
function notice(message) {
  const box = element('notice');
  box.textContent = message ?? '';
  box.hidden = message === undefined;
}

/**
 * @param {'live' | 'down' | 'connecting'} state
 * @param {number} [retryMs] when a refused stream is tried again: shown, so the operator knows it will be
 */
function connection(state, retryMs) {
  const pill = element('connection');
  pill.textContent =
    state === 'live'
      ? 'live'
      : state === 'connecting'
        ? 'connecting…'
        : retryMs === undefined
          ? 'disconnected'
          : `disconnected: retrying in ${duration(retryMs)}`;
  pill.className = `pill ${state}`;
  if (retryMs === undefined) delete pill.dataset.retryMs;
  else pill.dataset.retryMs = String(retryMs);
}

/**
 * Calls the console's API.
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
async function call(path, options = {}) {
  const response = await fetch(`${api}${path}`, {
    method: options.method ?? 'GET',
    headers: {
      authorization: `Bearer ${token()}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const body = await response.json().catch(() => undefined);
  if (response.status === 401 || response.status === 403) {
    signedOut(body?.detail ?? 'The token was refused');
    throw new Error(body?.detail ?? response.statusText);
  }
  if (!response.ok) throw new Error(body?.detail ?? `${response.status} ${response.statusText}`);
  return body;
}

/** @param {string} [why] */
function signedOut(why) {
  source?.close();
  source = undefined;
  if (why !== undefined) sessionStorage.removeItem(tokenKey);
  element('main').hidden = true;
  element('signout').hidden = true;
  element('signin').hidden = false;
  connection('down');
  notice(why);
}

function open() {
  if (token() === null) return signedOut();
  element('signin').hidden = true;
  element('main').hidden = false;
  element('signout').hidden = false;
  connection('connecting');
  source?.close();
  source = new EventSource(`${api}/live?access_token=${encodeURIComponent(token() ?? '')}`);
  source.addEventListener('status', (message) => {
    connection('live');
    reopenMs = 1000;
    notice(undefined);
    render(JSON.parse(message.data));
  });
  source.addEventListener('unavailable', (message) => {
    notice(JSON.parse(message.data).detail);
  });
  source.addEventListener('error', () => {
    connection('down');
    // A refused stream is not retried by the browser: ask the API why (a 401 or 403 signs out).
    // The API may answer while the stream does not (a token inside the server's clock leeway, too many streams
    // open): reopen after a pause that doubles, up to half a minute, rather than in a loop as fast as the network.
    if (source?.readyState === EventSource.CLOSED) {
      call('/status').then(
        () => {
          const wait = reopenMs;
          reopenMs = Math.min(reopenMs * 2, 30_000);
          connection('down', wait);
          setTimeout(open, wait);
        },
        (error) => notice(String(error.message)),
      );
    }
  });
}

/** @param {number} ms */
function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** @param {string | Date} at */
function time(at) {
  return new Date(at).toLocaleTimeString();
}

/** @param {any} status */
function render(status) {
  element('head').textContent = `last event at ${status.head}`;
  const now = new Date(status.at).getTime();
  const rows = status.subscriptions.map((/** @type {any} */ s) => {
    const last = previous.get(s.name);
    if (last !== undefined && now > last.at) {
      const delta = s.handled - last.handled;
      // A rebuild starts the count again: no rate for that step.
      if (delta >= 0) rates.set(s.name, (delta * 1000) / (now - last.at));
    }
    previous.set(s.name, { handled: s.handled, at: now });
    return subscriptionRow(s);
  });
  const body = /** @type {HTMLElement} */ (element('subscriptions').querySelector('tbody'));
  body.replaceChildren(...rows);

  const parked = status.subscriptions.reduce(
    (/** @type {number} */ n, /** @type {any} */ s) => n + s.parked,
    0,
  );
  if (parked !== parkedSeen) {
    parkedSeen = parked;
    loadDeadLetters();
  }

  if (status.lastErasure !== erasureSeen) {
    erasureSeen = status.lastErasure;
    if (erasureSeen !== undefined) loadErasures();
  }

  const actions = status.actions.map((/** @type {any} */ a) => {
    const what =
      a.action === 'rebuild'
        ? `rebuilt ${a.projection}`
        : `${a.action === 'replay' ? 'replayed' : 'discarded'} ${a.affected} of ${a.subscription ?? 'all'}${a.eventId ? ` (${a.eventId})` : ''}`;
    return h('li', { text: `${time(a.at)} — ${a.actor} ${what}` });
  });
  element('actions').replaceChildren(...actions);
  element('no-actions').hidden = actions.length > 0;
}

/** @param {any} s */
function subscriptionRow(s) {
  const state = h('td');
  if (s.projection !== undefined) {
    const p = s.projection;
    state.append(h('span', { text: p.state, className: `state-${p.state}` }), ` ${p.mode} v${p.version}`);
    if (p.state === 'building' && s.progress !== undefined) {
      const bar = /** @type {HTMLProgressElement} */ (
        h('progress', { title: `${Math.round(s.progress * 100)}%` })
      );
      bar.max = 1;
      bar.value = s.progress;
      bar.setAttribute('aria-label', `${s.projection.name} built ${Math.round(s.progress * 100)}%`);
      state.append(bar);
    }
  } else {
    state.append(h('span', { text: s.kind, className: 'muted' }));
  }
  const actions = h('td');
  if (s.projection?.state === 'serving') {
    const button = h('button', { text: 'Rebuild' });
    button.setAttribute('aria-label', `Rebuild ${s.projection.name}`);
    button.addEventListener('click', () =>
      rebuild(s.projection.name, /** @type {HTMLButtonElement} */ (button)),
    );
    actions.append(button);
  }
  const rate = rates.get(s.name);
  const row = h('tr', {}, [
    h('td', { text: s.name, className: 'mono' }),
    state,
    h('td', { text: s.position, className: 'mono' }),
    h('td', { text: String(s.lagEvents), className: 'number' }),
    h('td', { text: s.lagEvents === 0 ? '—' : duration(s.lagMs), className: 'number' }),
    h('td', { text: rate === undefined ? '—' : rate.toFixed(rate < 10 ? 1 : 0), className: 'number' }),
    h('td', { text: String(s.retrying), className: s.retrying > 0 ? 'number state-retrying' : 'number' }),
    h('td', { text: String(s.parked), className: s.parked > 0 ? 'number bad' : 'number' }),
    h('td', { text: s.holder ?? 'no process', className: s.holder ? 'mono' : 'muted' }),
    actions,
  ]);
  row.dataset.subscription = s.name;
  return row;
}

/**
 * @param {string} name
 * @param {HTMLButtonElement} button
 */
async function rebuild(name, button) {
  if (!confirm(`Rebuild ${name} from the start of the log? Its read model is emptied and fills up again.`))
    return;
  button.disabled = true;
  try {
    await call(`/projections/${encodeURIComponent(name)}/rebuild`, { method: 'POST' });
    notice(`Rebuilding ${name}…`);
  } catch (error) {
    notice(`The rebuild of ${name} did not start: ${/** @type {Error} */ (error).message}`);
    button.disabled = false;
  }
}

async function loadDeadLetters() {
  /** @type {{ items: any[] }} */
  let letters;
  try {
    letters = await call('/dead-letters');
  } catch (error) {
    notice(`The dead letters could not be read: ${/** @type {Error} */ (error).message}`);
    return;
  }
  const rows = letters.items.map((letter) => {
    const replay = h('button', { text: 'Replay' });
    replay.setAttribute('aria-label', `Replay ${letter.eventId} to ${letter.subscription}`);
    replay.addEventListener('click', () =>
      act('replay', { subscription: letter.subscription, eventId: letter.eventId }),
    );
    const discard = h('button', { text: 'Discard', className: 'danger' });
    discard.setAttribute('aria-label', `Discard ${letter.eventId} of ${letter.subscription}`);
    discard.addEventListener('click', () => {
      if (confirm(`Discard ${letter.type} ${letter.eventId}? ${letter.subscription} will never handle it.`)) {
        act('discard', { subscription: letter.subscription, eventId: letter.eventId });
      }
    });
    const details = h('details', {}, [
      h('summary', { text: `${letter.type} in ${letter.streamId}` }),
      h('div', {
        text: `event ${letter.eventId}, correlation ${letter.correlationId}`,
        className: 'mono muted',
      }),
      h('pre', { text: JSON.stringify(letter.data, null, 2) }),
    ]);
    const waiting = letter.waiting > 0 ? ` (${letter.waiting} later events of its stream wait)` : '';
    const row = h('tr', {}, [
      h('td', {}, [details]),
      h('td', { text: letter.subscription, className: 'mono' }),
      h('td', { text: letter.error + waiting, className: 'bad' }),
      h('td', { text: String(letter.attempts), className: 'number' }),
      h('td', { text: time(letter.parkedAt) }),
      h('td', {}, [h('div', { className: 'bar' }, [replay, discard])]),
    ]);
    row.dataset.eventId = letter.eventId;
    return row;
  });
  const table = element('dead-letters');
  /** @type {HTMLElement} */ (table.querySelector('tbody')).replaceChildren(...rows);
  table.hidden = rows.length === 0;
  element('no-dead').hidden = rows.length > 0;
  /** @type {HTMLButtonElement} */ (element('replay-all')).disabled = rows.length === 0;
  /** @type {HTMLButtonElement} */ (element('discard-all')).disabled = rows.length === 0;
}

/** The erasures of personal data, newest first: their record, never the erased data. */
async function loadErasures() {
  /** @type {{ items: any[] }} */
  let erasures;
  try {
    erasures = await call('/erasures');
  } catch (error) {
    notice(`The erasures could not be read: ${/** @type {Error} */ (error).message}`);
    return;
  }
  const rows = erasures.items.map((e) => {
    const row = h('tr', {}, [
      h('td', { text: new Date(e.at).toLocaleString() }),
      h('td', { text: e.subject, className: 'mono' }),
      h('td', { text: e.requestedBy }),
      h('td', { text: e.reason ?? '—', className: e.reason ? '' : 'muted' }),
      h('td', { text: String(e.keys), className: 'number' }),
      h('td', {
        text: e.readModels.length > 0 ? e.readModels.join(', ') : 'none',
        className: e.readModels.length > 0 ? '' : 'muted',
      }),
      h('td', { text: String(e.responses), className: 'number' }),
    ]);
    row.dataset.erasure = e.id;
    return row;
  });
  const table = element('erasures');
  /** @type {HTMLElement} */ (table.querySelector('tbody')).replaceChildren(...rows);
  table.hidden = rows.length === 0;
  element('no-erasures').hidden = rows.length > 0;
}

/**
 * @param {'replay' | 'discard'} action
 * @param {{ subscription: string, eventId: string } | { all: true }} target
 */
async function act(action, target) {
  try {
    const result = await call(`/dead-letters/${action}`, { method: 'POST', body: target });
    const count = action === 'replay' ? result.replayed : result.discarded;
    notice(
      `${action === 'replay' ? 'Replayed' : 'Discarded'} ${count} dead letter${count === 1 ? '' : 's'}.`,
    );
  } catch (error) {
    notice(`The ${action} failed: ${/** @type {Error} */ (error).message}`);
  }
  await loadDeadLetters();
}

/** @param {string} correlationId */
async function showStory(correlationId) {
  const out = element('story');
  out.replaceChildren(h('p', { text: 'Reading…', className: 'muted' }));
  /** @type {any} */
  let story;
  try {
    story = await call(`/stories/${encodeURIComponent(correlationId)}`);
  } catch (error) {
    out.replaceChildren(h('p', { text: /** @type {Error} */ (error).message, className: 'muted' }));
    return;
  }
  const causes = story.causes.map((/** @type {any} */ cause) => {
    const title =
      cause.kind === 'command'
        ? `Command ${cause.type ?? '(type not recorded)'}`
        : `Handler of event ${cause.type ?? ''}`;
    const events = cause.events.map((/** @type {any} */ e) =>
      h('li', {}, [
        h('span', { text: `${time(e.occurredAt)} ` }),
        h('strong', { text: e.type }),
        h('span', { text: ` in ${e.streamId} at ${e.position}`, className: 'muted' }),
        h(
          'ol',
          {},
          e.deliveries.map((/** @type {any} */ d) =>
            h('li', {}, [
              h('span', { text: d.state, className: `state-${d.state}` }),
              h('span', { text: ` ${d.subscription}`, className: 'mono' }),
              h('span', {
                text: `${d.at ? ` at ${time(d.at)}` : ''}${d.attempts ? `, ${d.attempts} attempts` : ''}${d.error ? ` — ${d.error}` : ''}`,
                className: 'muted',
              }),
            ]),
          ),
        ),
      ]),
    );
    return h('li', {}, [
      h('strong', { text: title }),
      h('span', { text: cause.id ? ` (${cause.id})` : '', className: 'muted mono' }),
      h('ol', {}, events),
    ]);
  });
  const received = story.received.map((/** @type {any} */ r) =>
    h('li', { text: `${time(r.at)} ${r.subscription} received ${r.eventId} from the bus` }),
  );
  out.replaceChildren(
    h('div', { className: 'story' }, [
      h('ol', {}, causes),
      ...(received.length > 0 ? [h('h3', { text: 'Received from the bus' }), h('ul', {}, received)] : []),
    ]),
  );
}

element('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = /** @type {HTMLTextAreaElement} */ (element('token')).value.trim().replace(/^Bearer\s+/i, '');
  if (value === '') return;
  sessionStorage.setItem(tokenKey, value);
  notice(undefined);
  open();
});
element('signout').addEventListener('click', () => {
  sessionStorage.removeItem(tokenKey);
  signedOut();
});
element('replay-all').addEventListener('click', () => act('replay', { all: true }));
element('discard-all').addEventListener('click', () => {
  if (confirm('Discard every dead letter? Their handlers will never handle them.'))
    act('discard', { all: true });
});
/** The running process manager instances, with their state and pending timeouts. */
async function loadProcesses() {
  const { items } = await call('/processes');
  const rows = items.map((/** @type {any} */ p) =>
    h('tr', {}, [
      h('td', { text: p.id }),
      h('td', { text: JSON.stringify(p.state) }),
      h('td', {
        text:
          Object.entries(p.timeouts)
            .map(([key, due]) => `${key} at ${time(String(due))}`)
            .join(', ') || '—',
      }),
      h('td', { text: String(p.version) }),
      h('td', { text: time(p.updatedAt) }),
    ]),
  );
  const body = /** @type {HTMLElement} */ (element('processes').querySelector('tbody'));
  body.replaceChildren(...rows);
  element('no-processes').hidden = rows.length > 0;
}

element('processes-refresh').addEventListener('click', () => {
  loadProcesses().catch((error) => notice(String(error.message)));
});

element('story-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = /** @type {HTMLInputElement} */ (element('correlation')).value.trim();
  if (id !== '') showStory(id);
});

open();
if (token() !== null) loadProcesses().catch((error) => notice(String(error.message)));
