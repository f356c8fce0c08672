/**
 * Program templates on the Programs page: the site's templates, and applying
 * one to equipment by Brick class (or its equipment type) in three steps —
 * review (each piece of equipment's program, validated, with the roles it
 * could not bind), save (a new version of each, nothing deployed), deploy
 * (each saved program, with one reason for the audit log). Also the
 * editor's "Save as template": a program written for one piece of equipment
 * whose points become roles.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import type { ProgramTemplate, TemplateApplied } from "../api/types";
import { DataTable } from "../components/DataTable";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import type { ProgramDoc } from "../lib/graph";
import { formatIssue, issuesFromProblem } from "../lib/programIssues";
import { href } from "../router";

function errorText(err: unknown): string {
  const e = err instanceof ApiError ? err : null;
  const list = e ? issuesFromProblem(e.problem.errors) : [];
  return list.length ? list.map((i) => formatIssue(i, null)).join(" ") : String(e?.message ?? err);
}

/** The equipment most of a program's points belong to ("demo/vav-c1/zone-temp" → "vav-c1"). */
export function mainEquipment(doc: Pick<ProgramDoc, "inputs" | "outputs">): string {
  const count = new Map<string, number>();
  for (const n of [...doc.inputs, ...doc.outputs]) {
    const equip = n.point.split("/")[1];
    if (equip) count.set(equip, (count.get(equip) ?? 0) + 1);
  }
  let best = "";
  let most = 0;
  for (const [e, c] of count) if (c > most) [best, most] = [e, c];
  return best;
}

export function TemplatesSection(props: { site: string; mayWrite: boolean; mayDeploy: boolean; onChanged: () => void }) {
  const { api } = useApp();
  const [tick, setTick] = useState(0);
  const list = useLoad(() => endpoints.programTemplates(api, props.site), [api, props.site, tick]);
  const [applying, setApplying] = useState<ProgramTemplate | null>(null);
  const items = list.data?.items ?? [];
  return (
    <section class="card" aria-labelledby="tpl-title">
      <h2 id="tpl-title">Templates</h2>
      {list.error && <p class="banner banner--error">{list.error.message}</p>}
      {items.length === 0 && !list.loading && (
        <p class="muted small">No template yet: open a program in the visual editor and use Save as template.</p>
      )}
      {items.length > 0 && (
        <DataTable
          rows={items}
          rowKey={(t) => t.id}
          caption={`Program templates of ${props.site}`}
          columns={[
            {
              key: "name",
              header: "Template",
              rowHeader: true,
              cell: (t) => (
                <>
                  {t.name || t.id}
                  <div class="muted small">{t.id}</div>
                </>
              ),
            },
            { key: "for", header: "For", cell: (t) => `${t.brick_class || t.equipment_type} (${t.equipment_type})` },
            { key: "roles", header: "Roles", headClass: "hide-sm", cellClass: "hide-sm", cell: (t) => t.roles.join(", ") || "—" },
            props.mayWrite && {
              key: "apply",
              header: <span class="sr-only">Apply</span>,
              cell: (t) => (
                <button type="button" class="btn btn--small" aria-label={`Apply ${t.name || t.id}`} onClick={() => setApplying(t)}>
                  Apply…
                </button>
              ),
            },
          ]}
        />
      )}
      {applying && (
        <ApplyTemplate
          key={applying.id}
          site={props.site}
          template={applying}
          mayDeploy={props.mayDeploy}
          onClose={() => {
            setApplying(null);
            setTick((n) => n + 1);
          }}
          onChanged={props.onChanged}
        />
      )}
    </section>
  );
}

function ApplyTemplate(props: { site: string; template: ProgramTemplate; mayDeploy: boolean; onClose: () => void; onChanged: () => void }) {
  const { api } = useApp();
  const { site, template } = props;
  const [brick, setBrick] = useState(template.brick_class);
  const [review, setReview] = useState<TemplateApplied | null>(null);
  const [saved, setSaved] = useState<TemplateApplied | null>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const body = () => (brick.trim() ? { brick_class: brick.trim() } : {});
  const good = (r: TemplateApplied | null) => (r?.items ?? []).filter((i) => i.program && i.issues.length === 0);
  const rows = (saved ?? review)?.items ?? [];
  return (
    <div class="template-apply" role="region" aria-label={`Apply ${template.name || template.id}`}>
      <h3>Apply {template.name || template.id}</h3>
      <div class="actions actions--left">
        <label for="tpl-brick">Brick class</label>
        <input id="tpl-brick" value={brick} onInput={(e) => setBrick(e.currentTarget.value)} placeholder={template.brick_class} />
        <button
          type="button"
          class="btn btn--small"
          disabled={busy}
          onClick={() =>
            run(async () => {
              setSaved(null);
              setReview(await endpoints.applyProgramTemplate(api, site, template.id, body()));
            })
          }
        >
          Review
        </button>
        <button type="button" class="btn btn--small" onClick={props.onClose}>
          Close
        </button>
      </div>
      {error && (
        <p class="banner banner--error" role="alert">
          {error}
        </p>
      )}
      {rows.length > 0 && (
        <DataTable
          rows={rows}
          rowKey={(i) => i.equipment}
          caption={`Programs of ${template.id} per piece of equipment`}
          columns={[
            { key: "equip", header: "Equipment", rowHeader: true, cell: (i) => i.equipment },
            {
              key: "program",
              header: "Program",
              cell: (i) =>
                i.program_id && saved ? <a href={href(`/sites/${site}/programs/${i.program_id}`)}>{i.program_id}</a> : (i.program_id ?? "—"),
            },
            {
              key: "points",
              header: "Points",
              headClass: "hide-sm",
              cellClass: "hide-sm",
              cell: (i) => (i.program ? [...i.program.inputs, ...i.program.outputs].map((n) => n.point.split("/").slice(1).join("/")).join(", ") : "—"),
            },
            {
              key: "issues",
              header: "Problems",
              cell: (i) => (i.issues.length ? i.issues.map((x) => formatIssue(x, i.program)).join(" ") : saved ? (i.version !== null ? `saved as v${i.version}` : "—") : "none"),
            },
          ]}
        />
      )}
      {review && !saved && (
        <div class="actions actions--left">
          <button
            type="button"
            class="btn btn--primary"
            disabled={busy || good(review).length === 0}
            onClick={() =>
              run(async () => {
                const r = await endpoints.applyProgramTemplate(api, site, template.id, { ...body(), save: true, comment: `from template ${template.id}` });
                setSaved(r);
                props.onChanged();
              })
            }
          >
            Save {good(review).length} program{good(review).length === 1 ? "" : "s"}
          </button>
          <span class="muted small">Each is saved as a new version; none is deployed.</span>
        </div>
      )}
      {saved && props.mayDeploy && good(saved).length > 0 && (
        <form
          class="actions actions--left"
          onSubmit={(ev) => {
            ev.preventDefault();
            if (!reason.trim()) return setError("Say why: it is kept in the audit log.");
            void run(async () => {
              let n = 0;
              for (const i of good(saved)) {
                if (i.program_id && i.version !== null) {
                  await endpoints.deployProgramVersion(api, site, i.program_id, i.version, reason.trim());
                  n++;
                }
              }
              setNote(`${n} program${n === 1 ? "" : "s"} deployed.`);
              props.onChanged();
            });
          }}
        >
          <label for="tpl-reason">Reason</label>
          <input id="tpl-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} maxLength={2000} />
          <button type="submit" class="btn btn--primary" disabled={busy}>
            Deploy {good(saved).length} program{good(saved).length === 1 ? "" : "s"}
          </button>
        </form>
      )}
      {note && (
        <p class="banner banner--info" role="status">
          {note}
        </p>
      )}
    </div>
  );
}

/** The editor's "Save as template": the program as it is, written for one piece of equipment. */
export function SaveTemplateDialog(props: { site: string; doc: ProgramDoc; onClose: (message: string | null) => void }) {
  const { api } = useApp();
  const ref = useRef<HTMLDialogElement>(null);
  const [id, setId] = useState(`${props.doc.id}-template`.slice(0, 64));
  const [name, setName] = useState(String(props.doc.name ?? ""));
  const [equipment, setEquipment] = useState(() => mainEquipment(props.doc));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => ref.current?.showModal(), []);
  const close = (message: string | null) => {
    ref.current?.close();
    props.onClose(message);
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="tpl-save-title" onCancel={() => props.onClose(null)}>
      <form
        noValidate
        onSubmit={async (ev) => {
          ev.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const t = await endpoints.saveProgramTemplate(api, props.site, id.trim(), { program: props.doc, equipment: equipment.trim(), name: name.trim() });
            close(`Template ${t.id} saved for ${t.brick_class || t.equipment_type}: its roles are ${t.roles.join(", ")}.`);
          } catch (err) {
            setError(errorText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2 id="tpl-save-title">Save as template</h2>
        <p class="muted small">
          The points of the equipment below become roles (by Brick class, else by name); the template then applies to every piece of equipment of its type.
        </p>
        <div class="field">
          <label for="tpl-id">Template id</label>
          <input id="tpl-id" value={id} maxLength={64} onInput={(e) => setId(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="tpl-name">Name</label>
          <input id="tpl-name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="tpl-equip">Written for the equipment</label>
          <input id="tpl-equip" value={equipment} onInput={(e) => setEquipment(e.currentTarget.value)} />
        </div>
        {error && (
          <p class="banner banner--error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" class="btn" onClick={() => close(null)}>
            Cancel
          </button>
          <button type="submit" class="btn btn--primary" disabled={busy}>
            Save template
          </button>
        </div>
      </form>
    </dialog>
  );
}
