/** What every page reaches: the API client, the live connection, who is signed in. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ApiClient } from "./api/client";
import type { Me } from "./api/types";
import type { LiveClient } from "./api/ws";

export interface AppContext {
  api: ApiClient;
  live: LiveClient;
  me: Me | null;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("useApp outside <Ctx.Provider>");
  return ctx;
}
