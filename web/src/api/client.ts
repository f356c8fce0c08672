/**
 * The fetch wrapper every API call goes through: it sends the bearer token,
 * refreshes it once on a 401 (one refresh in flight, however many calls
 * failed at once), signs out when the refresh fails, and turns error answers
 * into `ApiError` with field-level messages.
 */
import { ApiError, parseProblem } from "./problem";
import type { TokenStore, Tokens } from "./tokens";

export type Query = Record<string, string | number | boolean | null | undefined | readonly string[]>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Answer the raw Response (CSV downloads) instead of parsed JSON. */
  raw?: boolean;
}

export interface ApiClientOptions {
  store: TokenStore;
  baseUrl?: string;
  fetch?: typeof fetch;
  now?: () => number;
  /** Called once when the session is over (refresh failed): show sign-in. */
  onSignedOut?: () => void;
}

interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

// Refresh this long before the access token expires, so a request never leaves with a dying token.
const EXPIRY_MARGIN_MS = 20_000;
const NO_REFRESH = ["/api/v1/auth/login", "/api/v1/auth/refresh"];

export class ApiClient {
  private readonly store: TokenStore;
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly onSignedOut: () => void;
  private refreshing: Promise<boolean> | null = null;

  constructor(opts: ApiClientOptions) {
    this.store = opts.store;
    this.baseUrl = opts.baseUrl ?? "";
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = opts.now ?? Date.now;
    this.onSignedOut = opts.onSignedOut ?? (() => {});
  }

  get signedIn(): boolean {
    return this.store.get() !== null;
  }

  /** Sign in; a 401 or 422 comes back as an ApiError with plain-word messages. */
  async login(email: string, password: string): Promise<void> {
    const pair = await this.request<TokenPair>("POST", "/api/v1/auth/login", { body: { email, password } });
    this.keep(pair);
  }

  /** End the session on the server (best effort) and forget the tokens. */
  async logout(): Promise<void> {
    try {
      if (this.store.get()) await this.request("POST", "/api/v1/auth/logout", { body: {} });
    } catch {
      // Already ended or unreachable: forgetting the tokens is what matters.
    }
    this.store.set(null);
  }

  /**
   * A valid access token, refreshed first if it is about to expire; null when
   * signed out. The WebSocket client calls this before each connection.
   */
  async accessToken(): Promise<string | null> {
    const tokens = this.store.get();
    if (!tokens) return null;
    if (tokens.expires_at - EXPIRY_MARGIN_MS <= this.now()) {
      if (!(await this.refresh())) return null;
    }
    return this.store.get()?.access_token ?? null;
  }

  /**
   * Exchange the refresh token for a new pair. Single-flight: every caller
   * that arrives while a refresh is running shares it, because refresh tokens
   * rotate and presenting the same one twice would end the session.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const tokens = this.store.get();
    if (!tokens) return false;
    let res: Response;
    try {
      res = await this.fetchImpl(this.baseUrl + "/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      });
    } catch {
      // The server is unreachable: the session may still be good, so keep it.
      return false;
    }
    if (!res.ok) {
      if (res.status === 401 || res.status === 400 || res.status === 422) this.signOut();
      return false;
    }
    this.keep((await res.json()) as TokenPair);
    return true;
  }

  private keep(pair: TokenPair): void {
    const tokens: Tokens = {
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_at: this.now() + pair.expires_in * 1000,
    };
    this.store.set(tokens);
  }

  private signOut(): void {
    const had = this.store.get() !== null;
    this.store.set(null);
    if (had) this.onSignedOut();
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { query, signal });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, { body: body ?? {} });
  }

  /** One API call. Resolves to the parsed JSON (undefined for 204), rejects with ApiError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.baseUrl + path + queryString(opts.query);
    const mayRefresh = !NO_REFRESH.includes(path);
    if (mayRefresh) {
      const tokens = this.store.get();
      if (tokens && tokens.expires_at - EXPIRY_MARGIN_MS <= this.now()) await this.refresh();
    }
    const sentWith = this.store.get()?.access_token;
    let res = await this.send(method, url, opts);
    if (res.status === 401 && mayRefresh && this.store.get()) {
      // Retry once with a fresh token (another call may have refreshed it meanwhile);
      // a second 401, or no refresh, ends the session.
      const renewed = this.store.get()?.access_token !== sentWith || (await this.refresh());
      if (renewed) res = await this.send(method, url, opts);
      if (res.status === 401) this.signOut();
    }
    if (!res.ok) throw await toError(res);
    if (opts.raw) return res as unknown as T;
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(method: string, url: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json, application/problem+json" };
    const token = this.store.get()?.access_token;
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined && method !== "GET") {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    try {
      return await this.fetchImpl(url, { method, headers, body, signal: opts.signal });
    } catch (err) {
      if ((err as Error)?.name === "AbortError") throw err;
      throw new ApiError(parseProblem(0, "", null, ""));
    }
  }
}

async function toError(res: Response): Promise<ApiError> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    // A body cut short still leaves the status line to report.
  }
  return new ApiError(parseProblem(res.status, res.statusText, res.headers.get("Content-Type"), text));
}

/** `?a=1&points=x,y` from a query object; empty values are left out. */
export function queryString(query?: Query): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}
