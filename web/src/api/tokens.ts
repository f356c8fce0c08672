/** Where the session's tokens live between page loads. */

export interface Tokens {
  access_token: string;
  refresh_token: string;
  /** Epoch milliseconds at which the access token expires (from `expires_in`). */
  expires_at: number;
}

export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

/** Keeps the tokens in memory only (tests, or a kiosk that must forget on reload). */
export function memoryStore(initial: Tokens | null = null): TokenStore {
  let tokens = initial;
  return { get: () => tokens, set: (t) => void (tokens = t) };
}

/**
 * Keeps the tokens in localStorage so a reload or a second tab stays signed in.
 * The refresh token rotates on every use and a reused one ends the session, so
 * a copied token is detected rather than silently shared.
 */
export function localStore(key = "openbms.session"): TokenStore {
  let cached: Tokens | null | undefined;
  return {
    get() {
      if (cached === undefined) {
        try {
          const raw = localStorage.getItem(key);
          cached = raw ? (JSON.parse(raw) as Tokens) : null;
        } catch {
          cached = null;
        }
      }
      return cached;
    },
    set(tokens) {
      cached = tokens;
      try {
        if (tokens) localStorage.setItem(key, JSON.stringify(tokens));
        else localStorage.removeItem(key);
      } catch {
        // Private mode or a full quota: the session lasts as long as the page.
      }
    },
  };
}
