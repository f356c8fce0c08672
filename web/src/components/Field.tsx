/** A labelled form control with its error in plain words beside it (linked by aria-describedby). */
import type { ComponentChildren } from "preact";

let seq = 0;
export const uid = (prefix: string) => `${prefix}-${++seq}`;

export function Field(props: {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (aria: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ComponentChildren;
}) {
  const errId = `${props.id}-error`;
  const hintId = `${props.id}-hint`;
  const describedBy = [props.error ? errId : "", props.hint ? hintId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${props.error ? " field--error" : ""}`}>
      <label for={props.id}>{props.label}</label>
      {props.children({ id: props.id, "aria-invalid": !!props.error, "aria-describedby": describedBy })}
      {props.hint && (
        <small id={hintId} class="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <small id={errId} class="error" role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

/** Messages about the whole form (not one field). */
export function FormErrors(props: { messages: string[] }) {
  if (props.messages.length === 0) return null;
  return (
    <div class="banner banner--error" role="alert">
      {props.messages.map((m) => (
        <p key={m}>{m}</p>
      ))}
    </div>
  );
}
