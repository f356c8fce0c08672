/** Sign in with e-mail and password; errors beside the field concerned. */
import { useState } from "preact/hooks";
import { ApiError } from "../api/problem";
import { Field, FormErrors } from "../components/Field";
import { useApp } from "../context";

export function SignIn(props: { next: string; onSignedIn: (next: string) => void; expired: boolean }) {
  const { api } = useApp();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ fields: Record<string, string>; general: string[] }>({ fields: {}, general: [] });
  const [busy, setBusy] = useState(false);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    const fields: Record<string, string> = {};
    if (!email.trim()) fields.email = "Enter your e-mail address.";
    if (!password) fields.password = "Enter your password.";
    if (Object.keys(fields).length) return setErrors({ fields, general: [] });
    setBusy(true);
    try {
      await api.login(email.trim(), password);
      props.onSignedIn(props.next);
    } catch (err) {
      if (err instanceof ApiError) setErrors({ fields: err.fields, general: err.general });
      else setErrors({ fields: {}, general: [String(err)] });
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <form class="card" onSubmit={submit} noValidate aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to openbms</h1>
        {props.expired && <p class="banner banner--info">Your session ended. Sign in again to return to where you were.</p>}
        <Field id="email" label="E-mail" error={errors.fields.email}>
          {(aria) => (
            <input {...aria} type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} autoFocus />
          )}
        </Field>
        <Field id="password" label="Password" error={errors.fields.password}>
          {(aria) => (
            <input {...aria} type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          )}
        </Field>
        <FormErrors messages={errors.general} />
        <button type="submit" class="btn btn--primary btn--block" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
