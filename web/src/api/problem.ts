/**
 * RFC 9457 problem+json answers of the openbms API, and their translation into
 * plain words: one message per form field, plus the messages that concern no field.
 */

/** One entry of the `errors` list of a 422 answer. */
export interface FieldIssue {
  loc: (string | number)[];
  msg: string;
  type?: string;
}

/** A problem+json body (the fields openbms sends; all optional when parsing). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldIssue[];
}

/** A failed API call. `fields` maps a form field name to what is wrong with it. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly fields: Record<string, string>;
  readonly general: string[];

  constructor(problem: Problem) {
    const { fields, general } = fieldErrors(problem);
    super(general[0] ?? Object.values(fields)[0] ?? problem.title);
    this.name = "ApiError";
    this.status = problem.status;
    this.problem = problem;
    this.fields = fields;
    this.general = general;
  }
}

// Where the location says where, the request part names no field.
const LOCATION_PARTS = new Set(["body", "query", "path", "header", "cookie"]);

/** `["body", "limits", "min"]` → `"limits.min"`; `["body"]` → `""` (the whole request). */
export function fieldName(loc: readonly (string | number)[]): string {
  const parts = loc.length > 0 && LOCATION_PARTS.has(String(loc[0])) ? loc.slice(1) : loc;
  return parts.map(String).join(".");
}

// Pydantic's messages are written for developers; operators read these instead.
const PLAIN: Record<string, (msg: string) => string> = {
  missing: () => "This field is required.",
  string_too_short: (m) => (/at least 1 character/.test(m) ? "This field is required." : sentence(m)),
  string_too_long: (m) => sentence(m),
  float_parsing: () => "Enter a number.",
  int_parsing: () => "Enter a whole number.",
  float_type: () => "Enter a number.",
  int_type: () => "Enter a whole number.",
  bool_parsing: () => "Choose on or off.",
  greater_than_equal: (m) => sentence(m),
  less_than_equal: (m) => sentence(m),
  value_error: (m) => sentence(m.replace(/^Value error, /, "")),
  json_invalid: () => "The request was not valid JSON.",
};

function sentence(msg: string): string {
  const text = msg.trim();
  if (!text) return "This value is not valid.";
  const first = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** A problem's messages in plain words: per field, and those that concern no one field. */
export function fieldErrors(problem: Problem): { fields: Record<string, string>; general: string[] } {
  const fields: Record<string, string> = {};
  const general: string[] = [];
  for (const issue of problem.errors ?? []) {
    const name = fieldName(issue.loc ?? []);
    const plain = (issue.type && PLAIN[issue.type]?.(issue.msg)) || sentence(issue.msg ?? "");
    if (!name) general.push(plain);
    else if (fields[name]) fields[name] += ` ${plain}`;
    else fields[name] = plain;
  }
  if (general.length === 0 && Object.keys(fields).length === 0) {
    general.push(sentence(problem.detail || problem.title || `The server answered ${problem.status}.`));
  }
  return { fields, general };
}

/**
 * The problem of a failed response body: problem+json as sent, any other JSON
 * with a `detail`, or a problem made from the status line for anything else
 * (a proxy's HTML page, an empty body).
 */
export function parseProblem(status: number, statusText: string, contentType: string | null, body: string): Problem {
  const fallback: Problem = { type: "about:blank", title: statusText || defaultTitle(status), status };
  if (!body || !contentType || !/json/i.test(contentType)) {
    return { ...fallback, detail: defaultDetail(status) };
  }
  try {
    const data: unknown = JSON.parse(body);
    if (!data || typeof data !== "object") return fallback;
    const d = data as Record<string, unknown>;
    const errors = Array.isArray(d.errors)
      ? (d.errors as unknown[]).filter(isIssue)
      : Array.isArray(d.detail) // FastAPI's default 422 shape, should a route ever answer it
        ? (d.detail as unknown[]).filter(isIssue)
        : undefined;
    return {
      type: typeof d.type === "string" ? d.type : "about:blank",
      title: typeof d.title === "string" ? d.title : fallback.title,
      status: typeof d.status === "number" ? d.status : status,
      detail: typeof d.detail === "string" ? d.detail : undefined,
      instance: typeof d.instance === "string" ? d.instance : undefined,
      errors,
    };
  } catch {
    return { ...fallback, detail: defaultDetail(status) };
  }
}

function isIssue(x: unknown): x is FieldIssue {
  return !!x && typeof x === "object" && Array.isArray((x as FieldIssue).loc) && typeof (x as FieldIssue).msg === "string";
}

function defaultTitle(status: number): string {
  return status === 0 ? "Network error" : `HTTP ${status}`;
}

function defaultDetail(status: number): string {
  if (status === 0) return "The server could not be reached. Check the connection and try again.";
  if (status === 429) return "Too many requests: wait a moment and try again.";
  if (status >= 500) return "The server had a problem; it has been logged. Try again shortly.";
  return `The server answered ${status}.`;
}
