// Live updates over Server-Sent Events. The server sends the current state first, then each change; the browser
// resumes with Last-Event-ID by itself after a dropped connection. We only step in when it gives up (a response
// that is not a stream, like a 401 after the token expired) and when the tab has been hidden for a while: a
// browser allows few connections per server, and a forgotten tab should not hold them. A `problem` event (the
// order does not exist, the query was refused) ends the stream for good: reconnecting would only repeat it.
import { token } from './session.js';
import { toast } from './toast.js';

const hiddenGraceMs = 60_000;

/**
 * Follows a stream until the returned function is called.
 * @param {string} path like /api/kitchen/live
 * @param {string} eventName the SSE event carrying the data (`queue`, `order`, …)
 * @param {(data: any) => void} onData
 * @param {{
 *   signedIn?: boolean,
 *   onState?: (state: 'connecting'|'live'|'offline') => void,
 *   onProblem?: (problem: {status: number, detail?: string, title?: string}) => void,
 * }} [options]
 * @returns {() => void} stops following
 */
export function follow(
  path,
  eventName,
  onData,
  { signedIn = false, onState = () => {}, onProblem = toastProblem } = {},
) {
  /** @type {EventSource | undefined} */
  let source;
  let retryTimer;
  let hiddenTimer;
  let attempts = 0;
  let stopped = false;

  function open() {
    clearTimeout(retryTimer);
    if (stopped || source !== undefined) return;
    let url = path;
    if (signedIn) {
      const jwt = token();
      if (jwt === undefined) {
        onState('offline');
        return; // signed out meanwhile: the view re-renders for the new session
      }
      url += `${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(jwt)}`;
    }
    onState('connecting');
    source = new EventSource(url);
    source.addEventListener('open', () => {
      attempts = 0;
      onState('live');
    });
    source.addEventListener(eventName, (event) => {
      onState('live');
      try {
        onData(JSON.parse(/** @type {MessageEvent} */ (event).data));
      } catch (error) {
        console.warn('A live update could not be read', error);
      }
    });
    source.addEventListener('problem', (event) => {
      stopped = true;
      close();
      onState('offline');
      try {
        onProblem(JSON.parse(/** @type {MessageEvent} */ (event).data));
      } catch {
        onProblem({ status: 500, detail: 'The live updates stopped' });
      }
    });
    source.addEventListener('error', (event) => {
      // The server names a failure with an `error` event that has data; the browser's own errors have none.
      if (event instanceof MessageEvent && typeof event.data === 'string') {
        try {
          toast(JSON.parse(event.data).detail, { kind: 'info', title: 'Live updates paused' });
        } catch {}
      }
      if (stopped) return;
      if (source?.readyState === EventSource.CLOSED) {
        source = undefined;
        onState('offline');
        // Back off: 1 s, 2 s, 4 s … up to 30 s.
        retryTimer = setTimeout(open, Math.min(30_000, 1000 * 2 ** attempts++));
      } else {
        onState('connecting');
      }
    });
  }

  function close() {
    source?.close();
    source = undefined;
  }

  function onVisibility() {
    clearTimeout(hiddenTimer);
    if (document.visibilityState === 'hidden') {
      hiddenTimer = setTimeout(() => {
        close();
        onState('offline');
      }, hiddenGraceMs);
    } else if (source === undefined) {
      attempts = 0;
      open();
    }
  }

  document.addEventListener('visibilitychange', onVisibility);
  open();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    clearTimeout(hiddenTimer);
    document.removeEventListener('visibilitychange', onVisibility);
    close();
  };
}

function toastProblem(problem) {
  toast(problem.detail ?? problem.title ?? 'The live updates stopped', {
    kind: 'error',
    title: 'Live updates stopped',
  });
}
