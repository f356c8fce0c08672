/** The live connection's state in the header, and a banner when data on screen may be old. */
import { useApp } from "../context";
import { useLiveStatus, useWallNow } from "../hooks";

export function ConnectionIndicator() {
  const s = useLiveStatus();
  const label =
    s.state === "connected" ? (s.stale ? "Live: no data lately" : "Live") : s.state === "connecting" ? "Connecting…" : s.state === "reconnecting" ? "Reconnecting…" : "Offline";
  const tone = s.state === "connected" ? (s.stale ? "stale" : "ok") : s.state === "offline" ? "offline" : "stale";
  return (
    <span class={`conn conn--${tone}`} role="status" aria-live="polite">
      <span class={`dot dot--${tone}`} aria-hidden="true" />
      {label}
    </span>
  );
}

export function ConnectionBanner() {
  const { live } = useApp();
  const s = useLiveStatus();
  const now = useWallNow(1000);  // retryAt is the browser's own clock
  if (s.state === "connected" && !s.stale) return null;
  if (s.state === "connecting") return null;
  const wait = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - now) / 1000)) : null;
  const text =
    s.state === "connected"
      ? "No data has arrived for a while: the values shown may be out of date."
      : s.state === "reconnecting"
        ? "The live connection was lost; reconnecting. Values shown are the last known ones."
        : "The live connection is down. Values shown are the last known ones, not current.";
  return (
    <div class="banner banner--warn" role="alert">
      <span>{text}</span>
      {s.state !== "connected" && (
        <button type="button" class="btn btn--small" onClick={() => live.retryNow()}>
          Retry now{wait !== null && wait > 0 ? ` (auto in ${wait} s)` : ""}
        </button>
      )}
    </div>
  );
}
