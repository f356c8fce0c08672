import { describe, expect, it, vi } from "vitest";
import { ApiClient, queryString } from "../src/api/client";
import { ApiError } from "../src/api/problem";
import { memoryStore } from "../src/api/tokens";

const NOW = 1_700_000_000_000;

function json(status: number, body: unknown, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

const unauthorized = () =>
  json(401, { type: "about:blank", title: "Unauthorized", status: 401, detail: "token expired" }, "application/problem+json");

/** A fake server: access tokens `a1`, `a2`… are valid once issued; refresh rotates `r1` → `r2`… */
function server(opts: { refreshFails?: boolean; refreshDelay?: number } = {}) {
  let n = 1;
  let validAccess = "a1";
  let validRefresh = "r1";
  const calls: string[] = [];
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url);
    calls.push(path);
    if (path.endsWith("/auth/refresh")) {
      if (opts.refreshDelay) await new Promise((r) => setTimeout(r, opts.refreshDelay));
      const body = JSON.parse(String(init?.body));
      if (opts.refreshFails || body.refresh_token !== validRefresh) return unauthorized();
      n += 1;
      validAccess = `a${n}`;
      validRefresh = `r${n}`;
      return json(200, { access_token: validAccess, refresh_token: validRefresh, token_type: "bearer", expires_in: 900 });
    }
    const auth = (init?.headers as Record<string, string>)?.Authorization;
    if (auth !== `Bearer ${validAccess}`) return unauthorized();
    return json(200, { ok: true, path });
  });
  return {
    fetch: fetch as unknown as typeof globalThis.fetch,
    calls,
    expireAccess: () => void (validAccess = "expired"),
  };
}

describe("ApiClient token refresh", () => {
  it("sends the bearer token", async () => {
    const s = server();
    const api = new ApiClient({ store: memoryStore({ access_token: "a1", refresh_token: "r1", expires_at: NOW + 900e3 }), fetch: s.fetch, now: () => NOW });
    await expect(api.get("/api/v1/sites")).resolves.toEqual({ ok: true, path: "/api/v1/sites" });
  });

  it("refreshes once on 401 and retries the request", async () => {
    const s = server();
    s.expireAccess();
    const store = memoryStore({ access_token: "a1", refresh_token: "r1", expires_at: NOW + 900e3 });
    const api = new ApiClient({ store, fetch: s.fetch, now: () => NOW });
    await expect(api.get("/api/v1/sites")).resolves.toMatchObject({ ok: true });
    expect(store.get()?.access_token).toBe("a2");
    expect(s.calls.filter((c) => c.endsWith("/auth/refresh"))).toHaveLength(1);
  });

  it("shares one refresh among concurrent 401s (single flight)", async () => {
    const s = server({ refreshDelay: 5 });
    s.expireAccess();
    const store = memoryStore({ access_token: "a1", refresh_token: "r1", expires_at: NOW + 900e3 });
    const onSignedOut = vi.fn();
    const api = new ApiClient({ store, fetch: s.fetch, now: () => NOW, onSignedOut });
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => api.get(`/api/v1/x${i}`)));
    expect(results.every((r) => (r as { ok: boolean }).ok)).toBe(true);
    // Two refreshes with the same rotating token would end the session: there must be exactly one.
    expect(s.calls.filter((c) => c.endsWith("/auth/refresh"))).toHaveLength(1);
    expect(onSignedOut).not.toHaveBeenCalled();
  });

  it("refreshes before sending when the access token has expired", async () => {
    const s = server();
    const store = memoryStore({ access_token: "old", refresh_token: "r1", expires_at: NOW - 1 });
    const api = new ApiClient({ store, fetch: s.fetch, now: () => NOW });
    await api.get("/api/v1/sites");
    expect(s.calls).toEqual(["/api/v1/auth/refresh", "/api/v1/sites"]);
  });

  it("signs out once, and rejects, when the refresh fails", async () => {
    const s = server({ refreshFails: true });
    s.expireAccess();
    const store = memoryStore({ access_token: "a1", refresh_token: "r1", expires_at: NOW + 900e3 });
    const onSignedOut = vi.fn();
    const api = new ApiClient({ store, fetch: s.fetch, now: () => NOW, onSignedOut });
    const outcomes = await Promise.allSettled([api.get("/api/v1/a"), api.get("/api/v1/b")]);
    expect(outcomes.every((o) => o.status === "rejected" && o.reason instanceof ApiError && o.reason.status === 401)).toBe(true);
    expect(store.get()).toBeNull();
    expect(onSignedOut).toHaveBeenCalledTimes(1);
  });

  it("does not try to refresh a failed login", async () => {
    const fetch = vi.fn(async () => unauthorized()) as unknown as typeof globalThis.fetch;
    const api = new ApiClient({ store: memoryStore(), fetch, now: () => NOW });
    await expect(api.login("a@b.c", "wrong")).rejects.toMatchObject({ status: 401 });
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("keeps the tokens a login answers, with their expiry", async () => {
    const fetch = vi.fn(async () =>
      json(200, { access_token: "A", refresh_token: "R", token_type: "bearer", expires_in: 900 }),
    ) as unknown as typeof globalThis.fetch;
    const store = memoryStore();
    await new ApiClient({ store, fetch, now: () => NOW }).login("a@b.c", "pw");
    expect(store.get()).toEqual({ access_token: "A", refresh_token: "R", expires_at: NOW + 900_000 });
  });
});

describe("queryString", () => {
  it("joins lists with commas and leaves out empty values", () => {
    expect(queryString({ points: ["ahu-1/sat", "ahu-1/rat"], rollup: "raw", cursor: null, q: "" })).toBe(
      "?points=ahu-1%2Fsat%2Cahu-1%2Frat&rollup=raw",
    );
    expect(queryString({})).toBe("");
  });
});
