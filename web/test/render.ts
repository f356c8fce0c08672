/**
 * Preact elements as HTML, for tests of components without hooks (vitest runs
 * in node, without a DOM): function components are called, attributes written
 * as the DOM would show them (`class`, `scope`), event handlers left out.
 */
import { Fragment, type ComponentChildren, type VNode } from "preact";

const escape = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function html(node: ComponentChildren): string {
  if (node === null || node === undefined || typeof node === "boolean") return "";
  if (typeof node === "string" || typeof node === "number" || typeof node === "bigint") return escape(String(node));
  if (Array.isArray(node)) return node.map(html).join("");
  const v = node as VNode<Record<string, unknown>>;
  const { children, ...attrs } = v.props as Record<string, unknown> & { children?: ComponentChildren };
  if (v.type === Fragment) return html(children);
  if (typeof v.type === "function") return html((v.type as (p: unknown) => ComponentChildren)(v.props));
  const text = Object.entries(attrs)
    .filter(([k, a]) => a !== undefined && a !== null && a !== false && !k.startsWith("on"))
    .map(([k, a]) => (a === true ? ` ${k}` : ` ${k}="${escape(String(a))}"`))
    .join("");
  return `<${v.type}${text}>${html(children)}</${v.type}>`;
}
