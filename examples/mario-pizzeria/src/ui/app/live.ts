// Live updates over Server-Sent Events. The server sends the current state first, then each change; the browser
// resumes with Last-Event-ID by itself after a dropped connection. We only step in when it gives up (a response
// that is not a stream, like a 401 after the token expired) and when the tab has been hidden for a while: a
// browser allows few connections per server, and a forgotten tab should not hold them. A `problem` event (the
// order does not exist, the query was refused) ends the stream for good: reconnecting would only repeat it.
import { token } from './session.ts';
import { toast } from './toast.ts';

const hiddenGraceMs = 60_000;

export type LiveState = 'connecting' | 'live' | 'offline';

/** A problem the server sent on a stream (its problem details). */
export interface LiveProblem {
  readonly status: number;
  readonly detail?: string;
  readonly title?: string;
}

export interface FollowOptions {
  /** Sends the session's token (as `access_token`, since EventSource sends no headers). */
  readonly signedIn?: boolean;
  readonly onState?: (state: LiveState) => void;
  readonly onProblem?: (problem: LiveProblem) => void;
}

/**
 * Follows a stream (`/api/kitchen/live`) whose `eventName` events (`queue`, `order`, …) carry `T`, until the
 * returned function is called.
 */
export function follow<T>(
  path: string,
  eventName: string,
  onData: (data: T) => void,
  { signedIn = false, onState = () => {}, onProblem = toastProblem }: FollowOptions = {},
): () => void {
  let source: EventSource | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let hiddenTimer: ReturnType<typeof setTimeout> | undefined;
  let attempts = 0;
  let stopped = false;

  function open(): void {
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
        onData(JSON.parse((event as MessageEvent<string>).data) as T);
      } catch (error) {
        console.warn('A live update could not be read', error);
      }
    });
    source.addEventListener('problem', (event) => {
      stopped = true;
      close();
      onState('offline');
      try {
        onProblem(JSON.parse((event as MessageEvent<string>).data) as LiveProblem);
      } catch {
        onProblem({ status: 500, detail: 'The live updates stopped' });
      }
    });
    source.addEventListener('error', (event) => {
      // The server names a failure with an `error` event that has data; the browser's own errors have none.
      if (event instanceof MessageEvent && typeof event.data === 'string') {
        try {
          toast((JSON.parse(event.data) as LiveProblem).detail ?? 'The server paused the updates', {
            kind: 'info',
            title: 'Live updates paused',
          });
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

  function close(): void {
    source?.close();
    source = undefined;
  }

  function onVisibility(): void {
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

function toastProblem(problem: LiveProblem): void {
  toast(problem.detail ?? problem.title ?? 'The live updates stopped', {
    kind: 'error',
    title: 'Live updates stopped',
  });
}
