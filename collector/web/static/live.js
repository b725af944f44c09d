// Live updates: EventSource('/api/stream') with its own reconnect; after repeated failures, poll /api/overview
// every 10 s and keep trying the stream in the background.

import { getOverview } from "./api.js";

const FAILURES_BEFORE_POLLING = 3;
const POLL_MS = 10000;
const RETRY_MAX_MS = 30000;

/**
 * start({onStation, onAlert, onOverview, onStatus}) → stop().
 * onStatus gets "connecting" | "live" | "reconnecting" | "polling".
 */
export function startLive(handlers) {
  let source = null;
  let failures = 0;
  let retryTimer = null;
  let pollTimer = null;
  let stopped = false;
  let everOpen = false;

  const status = (s) => handlers.onStatus && handlers.onStatus(s);

  function parse(ev) {
    try {
      return JSON.parse(ev.data);
    } catch {
      return null;
    }
  }

  async function poll() {
    try {
      handlers.onOverview(await getOverview());
    } catch {
      /* next tick tries again */
    }
  }

  function startPolling() {
    if (pollTimer) return;
    status("polling");
    poll();
    pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (stopped) return;
    retryTimer = null;
    source = new EventSource("/api/stream");
    source.addEventListener("open", () => {
      const wasDown = failures > 0 || pollTimer !== null || everOpen;
      failures = 0;
      everOpen = true;
      stopPolling();
      status("live");
      // Events sent while we were away are lost: catch up from the overview once.
      if (wasDown) poll();
    });
    source.addEventListener("station", (ev) => {
      const data = parse(ev);
      if (data && data.id) handlers.onStation(data);
    });
    source.addEventListener("alert", (ev) => {
      const data = parse(ev);
      if (data && data.id != null) handlers.onAlert(data);
    });
    source.addEventListener("error", () => {
      failures += 1;
      if (failures >= FAILURES_BEFORE_POLLING) {
        source.close();
        source = null;
        startPolling();
        retryTimer = setTimeout(connect, RETRY_MAX_MS);
        return;
      }
      if (!pollTimer) status("reconnecting");
      // CONNECTING: the browser retries by itself. CLOSED (bad status or type): we retry with back-off.
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        retryTimer = setTimeout(connect, Math.min(RETRY_MAX_MS, 1000 * 2 ** (failures - 1)));
      }
    });
  }

  status("connecting");
  connect();
  return () => {
    stopped = true;
    if (source) source.close();
    if (retryTimer) clearTimeout(retryTimer);
    stopPolling();
  };
}
