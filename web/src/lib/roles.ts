/** What the signed-in user may do on a site, from GET /auth/me. */
import type { Me } from "../api/types";

/** Whether `me` holds `permission` on `site` (a grant on "*" holds everywhere). */
export function can(me: Me | null, permission: string, site: string): boolean {
  if (!me) return false;
  const perms = me.permissions;
  return !!(perms[site]?.includes(permission) || perms["*"]?.includes(permission));
}

/** The command dialog is for those who may command: hidden from viewers. */
export const canCommand = (me: Me | null, site: string) => can(me, "commands:write", site);
export const canAck = (me: Me | null, site: string) => can(me, "alarms:ack", site);
export const isAdmin = (me: Me | null) => can(me, "users:admin", "*");
