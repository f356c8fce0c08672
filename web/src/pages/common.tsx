/** Loading, error and not-found states every page shows the same way; a central's lag tag. */
import type { ApiError } from "../api/problem";
import type { SiteLag } from "../api/types";
import { lagLabel } from "../lib/central";

export function LoadState(props: { loading: boolean; error: ApiError | null; data: unknown; reload?: () => void }) {
  if (props.error) {
    return (
      <div class="banner banner--error" role="alert">
        <span>{props.error.status === 404 ? "Not found, or not yours to see." : props.error.message}</span>
        {props.reload && (
          <button type="button" class="btn btn--small" onClick={props.reload}>
            Try again
          </button>
        )}
      </div>
    );
  }
  if (props.loading && props.data === null) return <p class="muted" role="status">Loading…</p>;
  return null;
}

/** A page whose subject does not exist (or is not the user's to see): says so, with a way back. */
export function NotFound(props: { what: string; back: { href: string; label: string } }) {
  return (
    <main id="main">
      <h1>Not found</h1>
      <p role="alert">{props.what} does not exist, or is not yours to see.</p>
      <p>
        <a href={props.back.href}>{props.back.label}</a>
      </p>
    </main>
  );
}

/** At a central openbms: how far behind the centre is on a site ("3 s behind"), in the stale colour when behind. */
export function LagTag(props: { lag: SiteLag | null | undefined }) {
  const lag = lagLabel(props.lag);
  if (!lag) return null;
  return (
    <p class="small" data-testid="site-lag">
      <span class={`tag${lag.warn ? " tag--stale" : ""}`} style={{ textTransform: "none" }} title={lag.title}>
        {lag.text}
      </span>
    </p>
  );
}
