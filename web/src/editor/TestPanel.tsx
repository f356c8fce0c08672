/**
 * Test before deploy: replay the edited program over a recorded day (its
 * outputs as trends beside what their points recorded, and a time slider
 * that puts the replay's values on the wires), or run it live in a dry run
 * (computed from live inputs, written nowhere; its values on the wires).
 * Neither writes to a point. What the canvas's wires show is chosen here.
 */
import { useEffect, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { BlockStates, DryRun, ReplayResult, Value } from "../api/types";
import { Chart } from "../components/Chart";
import { useApp } from "../context";
import { formatTime } from "../lib/format";
import type { ProgramDoc } from "../lib/graph";
import { formatIssue, issuesFromProblem } from "../lib/programIssues";
import { useTheme } from "../theme";
import { replayChart, replayValuesAt } from "./testing";

/** What the wires show instead of the running program's values (null: the running program). */
export interface WireSource {
  label: string;
  values: Record<string, Value>;
  blockStates?: BlockStates | null;
}

function problemText(err: unknown, doc: ProgramDoc): string {
  const e = err instanceof ApiError ? err : null;
  const list = e ? issuesFromProblem(e.problem.errors) : [];
  return list.length ? list.map((i) => formatIssue(i, doc)).join(" ") : String(e?.message ?? err);
}

export function TestPanel(props: {
  site: string;
  programId: string;
  doc: ProgramDoc;
  mayEdit: boolean;
  source: WireSource | null;
  onSource: (s: WireSource | null) => void;
}) {
  const { api } = useApp();
  const { site, doc } = props;
  const [theme] = useTheme();
  const [day, setDay] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [replay, setReplay] = useState<ReplayResult | null>(null);
  const [at, setAt] = useState<number | null>(null);
  const [dry, setDry] = useState<DryRun | null>(null);

  const runReplay = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await endpoints.replayProgram(api, site, doc, day ? { day } : {});
      setReplay(r);
      setAt(r.end);
      props.onSource({ label: `Replay at ${formatTime(r.end * 1000)}`, values: replayValuesAt(r.values, r.end) });
    } catch (err) {
      setError(problemText(err, doc));
    } finally {
      setBusy(false);
    }
  };
  const moveTo = (t: number) => {
    if (!replay) return;
    setAt(t);
    props.onSource({ label: `Replay at ${formatTime(t * 1000)}`, values: replayValuesAt(replay.values, t) });
  };

  const startDry = async () => {
    setBusy(true);
    setError(null);
    try {
      const d = await endpoints.startDryRun(api, site, props.programId, doc);
      setDry(d);
      props.onSource({ label: "Dry run (live inputs, nothing written)", values: d.values, blockStates: d.block_states });
    } catch (err) {
      setError(problemText(err, doc));
    } finally {
      setBusy(false);
    }
  };
  const stopDry = async () => {
    try {
      await endpoints.stopDryRun(api, site, props.programId);
    } catch (err) {
      setError(problemText(err, doc));
    }
    setDry(null);
    props.onSource(null);
  };
  // A running dry run is read every 2 s: its values go on the wires.
  const dryRunning = dry?.running ?? false;
  useEffect(() => {
    if (!dryRunning) return;
    let alive = true;
    const t = setInterval(() => {
      endpoints.dryRun(api, site, props.programId).then(
        (d) => {
          if (!alive) return;
          setDry(d);
          props.onSource({ label: d.running ? "Dry run (live inputs, nothing written)" : "Dry run (ended)", values: d.values, blockStates: d.block_states });
        },
        () => {},
      );
    }, 2000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [api, site, props.programId, dryRunning]);

  return (
    <details class="editor__test">
      <summary>Test before deploying: replay a day, dry run live</summary>
      <div class="actions actions--left">
        <label for="ed-replay-day">Day</label>
        <input id="ed-replay-day" type="date" value={day} onInput={(e) => setDay(e.currentTarget.value)} aria-describedby="ed-replay-hint" />
        <button type="button" class="btn btn--small" disabled={busy} onClick={runReplay}>
          {day ? "Replay the day" : "Replay yesterday"}
        </button>
        {props.mayEdit &&
          (dryRunning ? (
            <button type="button" class="btn btn--small" onClick={stopDry}>
              Stop the dry run
            </button>
          ) : (
            <button type="button" class="btn btn--small" disabled={busy} onClick={startDry}>
              Dry run live
            </button>
          ))}
        {props.source && !dryRunning && (
          <button type="button" class="btn btn--small" onClick={() => props.onSource(null)}>
            Show the running program
          </button>
        )}
      </div>
      <p id="ed-replay-hint" class="muted small">
        A replay runs this program over what the historian recorded (no day: yesterday) and writes nothing; a dry run runs it on the live inputs for up to 15
        minutes and writes nothing.
      </p>
      {error && (
        <p class="banner banner--error" role="alert">
          {error}
        </p>
      )}
      {dry && (
        <p class="small" role="status">
          {dry.running ? `Dry run until ${formatTime(dry.until * 1000)}` : `Dry run ended ${formatTime((dry.ended_at ?? dry.until) * 1000)}`}: it would have
          written {dry.would_write} command{dry.would_write === 1 ? "" : "s"}.
        </p>
      )}
      {replay && (
        <div class="editor__replay">
          <div class="field">
            <label for="ed-replay-at">Values on the wires at {at !== null ? formatTime(at * 1000) : "—"}</label>
            <input
              id="ed-replay-at"
              type="range"
              min={replay.start}
              max={replay.end}
              step={replay.step_s}
              value={at ?? replay.end}
              onInput={(e) => moveTo(Number(e.currentTarget.value))}
            />
          </div>
          {replay.outputs.length === 0 && <p class="muted small">The program has no outputs.</p>}
          {replay.outputs.map((o) => (
            <figure key={o.id} class="editor__replay-chart" aria-label={`Replay of ${o.id}: computed beside recorded`}>
              <figcaption>
                {o.id} → {o.point} (priority {o.priority}): computed beside recorded
              </figcaption>
              <Chart data={replayChart(o, [replay.start, replay.end], null)} labels={{}} theme={theme} height={160} onZoom={() => {}} />
            </figure>
          ))}
        </div>
      )}
    </details>
  );
}
