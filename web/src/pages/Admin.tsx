/**
 * Administration: users (create with a role and site grants, change roles,
 * disable), API tokens (create — shown once —, revoke) and the audit log.
 * Users and the audit log are for admins on every site; API tokens are each
 * user's own (admins may revoke anyone's through the API). In `openbms demo`,
 * the Users page also offers the emulated building's faults (`EmulatorFaults`)
 * to inject and clear, so alarms and fault detection can be shown live.
 */
import { useState } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { ApiError } from "../api/problem";
import { ROLES, type AuditEntry, type EmulatorFault, type Role, type UserOut } from "../api/types";
import { DataTable } from "../components/DataTable";
import { Field, FormErrors } from "../components/Field";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import { serverClock } from "../lib/clock";
import { formatTime, fromZonedInput, zoneLabel } from "../lib/format";
import { isAdmin } from "../lib/roles";
import { LoadState } from "./common";

const roleWord = (r: string) => r.replace(/_/g, " ");

function NotYours(props: { title: string }) {
  return (
    <main id="main">
      <h1>{props.title}</h1>
      <p class="banner banner--warn" role="alert">
        Not yours to see: this page is for administrators of every site.
      </p>
    </main>
  );
}

interface FormErr {
  fields: Record<string, string>;
  general: string[];
}
const noErr: FormErr = { fields: {}, general: [] };
const toErr = (err: unknown): FormErr =>
  err instanceof ApiError ? { fields: err.fields, general: err.general } : { fields: {}, general: [String(err)] };

export function Users() {
  const { api, me } = useApp();
  const users = useLoad(() => (isAdmin(me) ? endpoints.users(api) : Promise.resolve([] as UserOut[])), [api, me]);
  const sites = useLoad(() => endpoints.sites(api), [api]);
  const [msg, setMsg] = useState<{ tone: "info" | "error"; text: string } | null>(null);
  if (me && !isAdmin(me)) return <NotYours title="Users" />;
  const siteIds = ["*", ...(sites.data ?? []).map((s) => s.id)];

  const act = async (done: string, run: () => Promise<unknown>) => {
    setMsg(null);
    try {
      await run();
      setMsg({ tone: "info", text: done });
      users.reload();
    } catch (err) {
      setMsg({ tone: "error", text: err instanceof ApiError ? err.message : String(err) });
    }
  };

  return (
    <main id="main">
      <h1>Users</h1>
      <CreateUser siteIds={siteIds} onCreated={(u) => { setMsg({ tone: "info", text: `User ${u.email} created.` }); users.reload(); }} />
      {msg && <p class={`banner banner--${msg.tone}`} role={msg.tone === "error" ? "alert" : "status"}>{msg.text}</p>}
      <LoadState {...users} />
      {users.data && (
        <DataTable
          class="users"
          rows={users.data}
          rowKey={(u) => u.id}
          caption="Users"
          columns={[
            {
              key: "user",
              header: "User",
              rowHeader: true,
              cell: (u) => (
                <>
                  {u.email}
                  {u.name && <div class="muted small">{u.name}</div>}
                </>
              ),
            },
            { key: "roles", header: "Roles by site", cell: (u) => <Grants user={u} siteIds={siteIds} act={act} /> },
            {
              key: "last-login",
              header: "Last sign-in",
              headClass: "hide-sm",
              cellClass: "hide-sm",
              cell: (u) => formatTime(u.last_login_at === null ? null : u.last_login_at * 1000),
            },
            {
              key: "state",
              header: "State",
              cell: (u) => (
                <>
                  {u.disabled ? "disabled" : u.locked ? "locked" : "active"}{" "}
                  {u.id !== me?.id && (
                    <button
                      type="button"
                      class="btn btn--small"
                      aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.email}`}
                      onClick={() => act(`${u.email} ${u.disabled ? "enabled" : "disabled"}.`, () => endpoints.updateUser(api, u.id, { disabled: !u.disabled }))}
                    >
                      {u.disabled ? "Enable" : "Disable"}
                    </button>
                  )}
                </>
              ),
            },
          ]}
        />
      )}
      <EmulatorFaults />
    </main>
  );
}

function Grants(props: { user: UserOut; siteIds: string[]; act: (done: string, run: () => Promise<unknown>) => void }) {
  const { api } = useApp();
  const u = props.user;
  const [site, setSite] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const free = props.siteIds.filter((s) => !(s in u.grants));
  return (
    <div>
      <ul class="grants">
        {Object.entries(u.grants).map(([s, r]) => (
          <li key={s}>
            <label class="inline">
              <span>{s === "*" ? "every site" : s}</span>
              <select
                aria-label={`Role of ${u.email} on ${s === "*" ? "every site" : s}`}
                value={r}
                onChange={(e) => props.act(`${u.email} is now ${roleWord(e.currentTarget.value)} on ${s}.`, () => endpoints.grant(api, u.id, s, e.currentTarget.value))}
              >
                {ROLES.map((x) => (
                  <option key={x} value={x}>{roleWord(x)}</option>
                ))}
              </select>
            </label>{" "}
            <button type="button" class="btn btn--small" aria-label={`Remove ${u.email}'s role on ${s}`} onClick={() => props.act(`${u.email} no longer has a role on ${s}.`, () => endpoints.revokeGrant(api, u.id, s))}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      {free.length > 0 && (
        <form
          class="inline small"
          onSubmit={(e) => {
            e.preventDefault();
            const s = site || free[0]!;
            props.act(`${u.email} is now ${roleWord(role)} on ${s}.`, () => endpoints.grant(api, u.id, s, role));
          }}
        >
          <select aria-label={`Site to grant ${u.email}`} value={site || free[0]} onChange={(e) => setSite(e.currentTarget.value)}>
            {free.map((s) => (
              <option key={s} value={s}>{s === "*" ? "every site" : s}</option>
            ))}
          </select>
          <select aria-label={`Role to grant ${u.email}`} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {ROLES.map((x) => (
              <option key={x} value={x}>{roleWord(x)}</option>
            ))}
          </select>
          <button type="submit" class="btn btn--small">Grant</button>
        </form>
      )}
    </div>
  );
}

function CreateUser(props: { siteIds: string[]; onCreated: (u: UserOut) => void }) {
  const { api } = useApp();
  const [f, setF] = useState({ email: "", name: "", password: "", role: "viewer" as Role, site: "" });
  const [err, setErr] = useState<FormErr>(noErr);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const site = f.site || props.siteIds[1] || "*";
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(noErr);
    try {
      const u = await endpoints.createUser(api, { email: f.email, name: f.name, password: f.password, grants: { [site]: f.role } });
      setF({ email: "", name: "", password: "", role: "viewer", site: "" });
      props.onCreated(u);
    } catch (x) {
      setErr(toErr(x));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="card">
      <summary>New user</summary>
      <form onSubmit={submit} aria-label="New user">
        <FormErrors messages={err.general} />
        <div class="row">
          <Field id="nu-email" label="E-mail" error={err.fields.email}>
            {(a) => <input {...a} type="email" required value={f.email} onInput={set("email")} autoComplete="off" />}
          </Field>
          <Field id="nu-name" label="Name" error={err.fields.name}>
            {(a) => <input {...a} value={f.name} onInput={set("name")} />}
          </Field>
          <Field id="nu-password" label="Password" error={err.fields.password} hint="At least 10 characters.">
            {(a) => <input {...a} type="password" required value={f.password} onInput={set("password")} autoComplete="new-password" />}
          </Field>
          <Field id="nu-role" label="Role" error={err.fields.grants}>
            {(a) => (
              <select {...a} value={f.role} onChange={set("role")}>
                {ROLES.map((x) => (
                  <option key={x} value={x}>{roleWord(x)}</option>
                ))}
              </select>
            )}
          </Field>
          <Field id="nu-site" label="On site">
            {(a) => (
              <select {...a} value={site} onChange={set("site")}>
                {props.siteIds.map((s) => (
                  <option key={s} value={s}>{s === "*" ? "every site" : s}</option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <div class="actions actions--left">
          <button type="submit" class="btn btn--primary" disabled={busy}>Create user</button>
        </div>
      </form>
    </details>
  );
}

export function Tokens() {
  const { api, me } = useApp();
  const tokens = useLoad(() => endpoints.tokens(api), [api]);
  const [f, setF] = useState({ name: "", role: "", days: "365" });
  const [err, setErr] = useState<FormErr>(noErr);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(noErr);
    setCreated(null);
    setCopied(false);
    try {
      const t = await endpoints.createToken(api, {
        name: f.name,
        role: f.role || null,
        expires_in_days: f.days ? Number(f.days) : null,
      });
      setCreated({ name: t.name, token: t.token });
      setF({ ...f, name: "" });
      tokens.reload();
    } catch (x) {
      setErr(toErr(x));
    }
  };
  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied(true);
    } catch {
      // No clipboard (plain http): select the text for Ctrl+C instead.
      const el = document.getElementById("new-token") as HTMLInputElement | null;
      el?.select();
    }
  };
  return (
    <main id="main">
      <h1>API tokens</h1>
      <p class="muted">Tokens let scripts and machines use the API as you (at most the role chosen). {me && !isAdmin(me) ? "These are your own tokens." : ""}</p>
      <form class="card" onSubmit={submit} aria-label="New API token">
        <h2>New token</h2>
        <FormErrors messages={err.general} />
        <div class="row">
          <Field id="tk-name" label="Token name" error={err.fields.name}>
            {(a) => <input {...a} required value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} placeholder="energy export" />}
          </Field>
          <Field id="tk-role" label="At most role" error={err.fields.role}>
            {(a) => (
              <select {...a} value={f.role} onChange={(e) => setF({ ...f, role: e.currentTarget.value })}>
                <option value="">my own roles</option>
                {ROLES.map((x) => (
                  <option key={x} value={x}>{roleWord(x)}</option>
                ))}
              </select>
            )}
          </Field>
          <Field id="tk-days" label="Expires after (days)" error={err.fields.expires_in_days} hint="Empty: never.">
            {(a) => <input {...a} type="number" min={1} max={3650} value={f.days} onInput={(e) => setF({ ...f, days: e.currentTarget.value })} />}
          </Field>
        </div>
        <div class="actions actions--left">
          <button type="submit" class="btn btn--primary">Create token</button>
        </div>
      </form>
      {created && (
        <div class="banner banner--info new-token" role="status">
          <p>
            Token “{created.name}” created. Copy it now: <strong>it will not be shown again</strong>.
          </p>
          <div class="inline">
            <input id="new-token" aria-label="New token" readOnly value={created.token} size={48} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" class="btn btn--small" onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" class="btn btn--small" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {msg && <p class="banner banner--info" role="status">{msg}</p>}
      <LoadState {...tokens} />
      {tokens.data && tokens.data.length === 0 && <p class="muted">No tokens yet.</p>}
      {tokens.data && tokens.data.length > 0 && (
        <DataTable
          class="tokens"
          rows={tokens.data}
          rowKey={(t) => t.id}
          caption="API tokens"
          columns={[
            { key: "name", header: "Name", rowHeader: true, cell: (t) => t.name },
            { key: "prefix", header: "Starts with", cell: (t) => <code>{t.prefix}…</code> },
            { key: "role", header: "Role", cell: (t) => (t.role ? roleWord(t.role) : "own roles") },
            { key: "created", header: "Created", headClass: "hide-sm", cellClass: "hide-sm", cell: (t) => formatTime(t.created_at * 1000) },
            { key: "expires", header: "Expires", headClass: "hide-sm", cellClass: "hide-sm", cell: (t) => (t.expires_at ? formatTime(t.expires_at * 1000) : "never") },
            { key: "last-used", header: "Last used", headClass: "hide-sm", cellClass: "hide-sm", cell: (t) => (t.last_used_at ? formatTime(t.last_used_at * 1000) : "never") },
            {
              key: "state",
              header: "State",
              cell: (t) =>
                t.revoked_at ? (
                  `revoked ${formatTime(t.revoked_at * 1000)}`
                ) : (
                  <button
                    type="button"
                    class="btn btn--small"
                    aria-label={`Revoke ${t.name}`}
                    onClick={async () => {
                      if (!confirm(`Revoke the token “${t.name}”? Scripts using it stop working at once.`)) return;
                      try {
                        await endpoints.revokeToken(api, t.id);
                        setMsg(`Token “${t.name}” revoked.`);
                      } catch (x) {
                        setMsg(x instanceof ApiError ? x.message : String(x));
                      }
                      tokens.reload();
                    }}
                  >
                    Revoke
                  </button>
                ),
            },
          ]}
        />
      )}
    </main>
  );
}

/**
 * `2026-11-30T18:00` (a datetime-local input) → epoch s, read in the zone the page shows times in
 * (the site's, lib/format); empty → undefined.
 */
export function localToEpoch(v: string): number | undefined {
  if (!v) return undefined;
  const t = fromZonedInput(v);
  return t === null ? undefined : t / 1000;
}

export function Audit() {
  const { api, me } = useApp();
  const [form, setForm] = useState({ actor: "", action: "", since: "" });
  const [filter, setFilter] = useState(form);
  const [extra, setExtra] = useState<{ items: AuditEntry[]; cursor: string | null } | null>(null);
  const first = useLoad(
    () => (isAdmin(me) ? endpoints.audit(api, { actor: filter.actor || undefined, action: filter.action || undefined, since: localToEpoch(filter.since) }) : Promise.resolve(null)),
    [api, me, filter],
  );
  if (me && !isAdmin(me)) return <NotYours title="Audit log" />;
  const items = [...(first.data?.items ?? []), ...(extra?.items ?? [])];
  const cursor = extra ? extra.cursor : first.data?.next_cursor ?? null;
  const more = async () => {
    const page = await endpoints.audit(api, { actor: filter.actor || undefined, action: filter.action || undefined, since: localToEpoch(filter.since), cursor });
    setExtra({ items: [...(extra?.items ?? []), ...page.items], cursor: page.next_cursor });
  };
  return (
    <main id="main">
      <h1>Audit log</h1>
      <form
        class="card"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          setExtra(null);
          setFilter({ ...form });
        }}
      >
        <div class="row">
          <div class="field">
            <label for="au-actor">Actor</label>
            <input id="au-actor" value={form.actor} onInput={(e) => setForm({ ...form, actor: e.currentTarget.value })} placeholder="admin@example.com" />
          </div>
          <div class="field">
            <label for="au-action">Action</label>
            <input id="au-action" value={form.action} onInput={(e) => setForm({ ...form, action: e.currentTarget.value })} placeholder="user.create or auth.*" />
          </div>
          <div class="field">
            <label for="au-since">Since</label>
            <input id="au-since" type="datetime-local" aria-describedby="au-since-zone" value={form.since} onInput={(e) => setForm({ ...form, since: e.currentTarget.value })} />
            <small id="au-since-zone" class="hint">
              Time zone: {zoneLabel((localToEpoch(form.since) ?? serverClock.now() / 1000) * 1000)}
            </small>
          </div>
        </div>
        <div class="actions actions--left">
          <button type="submit" class="btn btn--primary">Filter</button>
          <button type="button" class="btn" onClick={() => { const empty = { actor: "", action: "", since: "" }; setForm(empty); setExtra(null); setFilter(empty); }}>
            Clear
          </button>
        </div>
      </form>
      <LoadState {...first} />
      {first.data && items.length === 0 && <p class="muted">No entries.</p>}
      {items.length > 0 && (
        <DataTable
          class="audit"
          rows={items}
          rowKey={(a) => a.id}
          caption="Audit log, newest first"
          columns={[
            { key: "when", header: "When", cell: (a) => formatTime(a.ts * 1000) },
            { key: "who", header: "Who", cell: (a) => a.actor },
            { key: "what", header: "What", cell: (a) => a.action },
            { key: "target", header: "Target", cell: (a) => a.target },
            { key: "details", header: "Details", headClass: "hide-sm", cellClass: "hide-sm small", cell: (a) => <code>{JSON.stringify(a.details)}</code> },
            { key: "from", header: "From", headClass: "hide-sm", cellClass: "hide-sm", cell: (a) => a.remote_addr ?? "—" },
          ]}
        />
      )}
      {cursor && (
        <button type="button" class="btn" onClick={more}>
          Older entries
        </button>
      )}
    </main>
  );
}

const FAULT_KINDS: { id: string; label: string }[] = [
  { id: "", label: "Every kind" },
  { id: "chiller-trip", label: "Chiller trips" },
  { id: "stuck-damper", label: "Stuck dampers" },
  { id: "failed-sensor", label: "Failed sensors" },
  { id: "fouled-coil", label: "Fouled coils" },
];

/** What a fault holds while active: "40 %", "no reading", or "active" for one without a number. */
export function faultState(f: EmulatorFault): string {
  if (!f.active) return "";
  if (f.parameter === null) return "active";
  if (f.value === null) return "no reading";
  return f.unit ? `${f.value} ${f.unit}` : String(f.value);
}

/**
 * The emulated building's faults, injected and cleared live (admins, and only
 * where openbms runs the demo's emulator: elsewhere the API answers 409 and
 * this shows nothing, or a note on the stand-alone page). A fault's number
 * (a stuck damper's position, a failed sensor's reading, a fouled coil's
 * capacity) is typed beside it; empty means the fault's default.
 */
export function EmulatorFaults(props: { standalone?: boolean }) {
  const { api, me } = useApp();
  const faults = useLoad(() => (isAdmin(me) ? endpoints.emulatorFaults(api) : Promise.resolve(null)), [api, me]);
  const [kind, setKind] = useState("");
  const [activeOnly, setActiveOnly] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState<{ tone: "info" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  if (!me || !isAdmin(me)) return null;
  if (faults.error?.status === 409) {
    return props.standalone ? <p class="muted">{faults.error.message}</p> : null;
  }
  const act = async (f: EmulatorFault, inject: boolean) => {
    setMsg(null);
    setErrors({ ...errors, [f.id]: "" });
    const text = (values[f.id] ?? "").trim();
    const value = inject && text !== "" ? Number(text) : null;
    if (inject && text !== "" && !Number.isFinite(value)) {
      setErrors({ ...errors, [f.id]: `Expected a number${f.unit ? ` in ${f.unit}` : ""}, or nothing for the default.` });
      return;
    }
    setBusy(f.id);
    try {
      const done = inject ? await endpoints.injectFault(api, f.id, value) : await endpoints.clearFault(api, f.id);
      setMsg({ tone: "info", text: `${inject ? "Injected" : "Cleared"}: ${done.label}${inject && faultState(done) !== "active" ? ` (${faultState(done)})` : ""}.` });
      faults.reload();
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) setErrors({ ...errors, [f.id]: err.message });
      else setMsg({ tone: "error", text: err instanceof ApiError ? err.message : String(err) });
    } finally {
      setBusy(null);
    }
  };
  const rows = (faults.data?.items ?? []).filter((f) => (!kind || f.kind === kind) && (!activeOnly || f.active));
  return (
    <section class="card emulator-faults" aria-labelledby="faults-title">
      <h2 id="faults-title">Emulated building faults</h2>
      <p class="muted">
        Inject a fault into the demo's building to see alarms and fault detection react; clear it to repair it.
        {faults.data && ` ${faults.data.active} active.`}
      </p>
      <div class="toolbar">
        <div class="field">
          <label for="flt-kind">Kind</label>
          <select id="flt-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            {FAULT_KINDS.map((k) => (
              <option key={k.id} value={k.id}>{k.label}</option>
            ))}
          </select>
        </div>
        <label class="check">
          <input type="checkbox" checked={activeOnly} onChange={(e) => setActiveOnly(e.currentTarget.checked)} /> Active only
        </label>
      </div>
      {msg && <p class={`banner banner--${msg.tone}`} role={msg.tone === "error" ? "alert" : "status"}>{msg.text}</p>}
      <LoadState {...faults} />
      {faults.data && (
        <DataTable
          class="faults"
          rows={rows}
          rowKey={(f) => f.id}
          caption="Faults of the emulated building"
          empty={<p class="muted">No fault matches.</p>}
          rowClass={(f) => (f.active ? "row--active" : "")}
          columns={[
            {
              key: "fault",
              header: "Fault",
              rowHeader: true,
              cell: (f) => (
                <>
                  {f.label}
                  <div class="muted small">
                    <code>{f.id}</code>
                  </div>
                </>
              ),
            },
            { key: "state", header: "In force", cell: (f) => (f.active ? <span class="tag tag--new">{faultState(f)}</span> : "—") },
            {
              key: "value",
              header: "Value",
              cell: (f) => {
                if (f.parameter === null) return null;
                const id = `flt-v-${f.id.replace(/[^a-z0-9-]/gi, "-")}`;
                const err = errors[f.id];
                const range = f.minimum !== null && f.maximum !== null && f.kind !== "failed-sensor" ? `${f.minimum}–${f.maximum}` : "";
                return (
                  <div class={`field field--inline${err ? " field--error" : ""}`}>
                    <label class="sr-only" for={id}>{`${f.parameter} for ${f.label}${f.unit ? `, ${f.unit}` : ""}`}</label>
                    <input
                      id={id}
                      inputMode="decimal"
                      size={6}
                      value={values[f.id] ?? ""}
                      placeholder={f.default === null ? "none" : String(f.default)}
                      aria-invalid={!!err}
                      aria-describedby={err ? `${id}-error` : undefined}
                      onInput={(e) => setValues({ ...values, [f.id]: e.currentTarget.value })}
                    />{" "}
                    <span class="muted small">{[f.unit, range].filter(Boolean).join(" ")}</span>
                    {err && (
                      <small id={`${id}-error`} class="error" role="alert">
                        {err}
                      </small>
                    )}
                  </div>
                );
              },
            },
            {
              key: "act",
              header: <span class="sr-only">Actions</span>,
              cell: (f) => (
                <>
                  <button type="button" class="btn btn--small" disabled={busy === f.id} aria-label={`${f.active ? "Change" : "Inject"} ${f.label}`} onClick={() => act(f, true)}>
                    {f.active ? "Change" : "Inject"}
                  </button>{" "}
                  {f.active && (
                    <button type="button" class="btn btn--small" disabled={busy === f.id} aria-label={`Clear ${f.label}`} onClick={() => act(f, false)}>
                      Clear
                    </button>
                  )}
                </>
              ),
            },
          ]}
        />
      )}
    </section>
  );
}

/** The faults on a page of their own (for a route such as /admin/faults). */
export function Faults() {
  const { me } = useApp();
  if (me && !isAdmin(me)) return <NotYours title="Emulated building faults" />;
  return (
    <main id="main">
      <h1>Emulated building faults</h1>
      <EmulatorFaults standalone />
    </main>
  );
}
