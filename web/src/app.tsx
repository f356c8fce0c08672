/** The shell: header with navigation, connection state and theme toggle; the page of the route. */
import { useEffect, useState } from "preact/hooks";
import { endpoints } from "./api/endpoints";
import type { Me } from "./api/types";
import { ConnectionBanner, ConnectionIndicator } from "./components/Connection";
import { Ctx, type AppContext } from "./context";
import { useSiteZone } from "./hooks";
import { Alarms } from "./pages/Alarms";
import { EquipmentPage } from "./pages/Equipment";
import { ListStub } from "./pages/Lists";
import { Energy } from "./pages/Energy";
import { FloorPlans } from "./pages/Floor";
import { Points } from "./pages/Points";
import { ProgramPage, Programs } from "./pages/Programs";
import { Audit, Tokens, Users } from "./pages/Admin";
import { Overview } from "./pages/Overview";
import { Overrides } from "./pages/Overrides";
import { ScheduleEditor, Schedules } from "./pages/Schedules";
import { SignIn } from "./pages/SignIn";
import { Sites } from "./pages/Sites";
import { currentPath, href, navigate, signInPath, useRoute, type Route } from "./router";
import { isAdmin } from "./lib/roles";
import { useTheme } from "./theme";

/** Dates and times on every page of a site in the site's time zone (lib/format follows it). */
function SiteZone(props: { site: string | null }) {
  useSiteZone(props.site);
  return null;
}

export function App(props: { ctx: Omit<AppContext, "me">; expired: { value: boolean } }) {
  const { api, live } = props.ctx;
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [session, setSession] = useState(0);

  // Signed out (no tokens): to sign-in, remembering the page.
  useEffect(() => {
    if (route.name !== "sign-in" && !api.signedIn) navigate(signInPath(currentPath()), true);
  }, [route.name, session]);

  useEffect(() => {
    if (!api.signedIn || route.name === "sign-in") return;
    let alive = true;
    endpoints.me(api).then((m) => alive && setMe(m), () => {});
    live.start();
    return () => {
      alive = false;
    };
  }, [session, route.name === "sign-in"]);

  const ctx: AppContext = { api, live, me };
  if (route.name === "sign-in") {
    return (
      <Ctx.Provider value={ctx}>
        <SignIn
          next={route.next}
          expired={props.expired.value}
          onSignedIn={(next) => {
            props.expired.value = false;
            setSession((s) => s + 1);
            navigate(next, true);
          }}
        />
      </Ctx.Provider>
    );
  }
  if (!api.signedIn) return null;
  const site = "site" in route ? route.site : null;
  return (
    <Ctx.Provider value={ctx}>
      <SiteZone site={site} />
      <a class="skip" href="#main" onClick={(e) => {
        // Not a hash change: the hash is the route.
        e.preventDefault();
        const main = document.querySelector("main");
        main?.setAttribute("tabindex", "-1");
        main?.focus();
      }}>
        Skip to content
      </a>
      <Header route={route} site={site} me={me} onSignOut={async () => {
        live.stop();
        await api.logout();
        setMe(null);
        navigate("/sign-in");
      }} />
      <ConnectionBanner />
      <Page route={route} />
    </Ctx.Provider>
  );
}

function Page(props: { route: Route }) {
  const r = props.route;
  switch (r.name) {
    case "sites":
      return <Sites />;
    case "overview":
      return <Overview site={r.site} />;
    case "equipment":
      return <EquipmentPage site={r.site} equip={r.equip} />;
    case "alarms":
      return <Alarms site={r.site} />;
    case "overrides":
      return <Overrides site={r.site} />;
    case "energy":
      return <Energy site={r.site} />;
    case "plans":
      return <FloorPlans site={r.site} space={r.space} />;
    case "schedules":
      return <Schedules site={r.site} />;
    case "schedule":
      return <ScheduleEditor site={r.site} id={r.schedule} />;
    case "list":
      return <ListStub site={r.site} what={r.what} />;
    case "points":
      return <Points />;
    case "programs":
      return <Programs site={r.site} />;
    case "program":
      return <ProgramPage site={r.site} id={r.program} />;
    case "users":
      return <Users />;
    case "tokens":
      return <Tokens />;
    case "audit":
      return <Audit />;
    case "not-found":
    case "sign-in":
      return (
        <main id="main">
          <h1>Page not found</h1>
          <p>
            <a href={href("/")}>Back to the sites</a>
          </p>
        </main>
      );
  }
}

function Header(props: { route: Route; site: string | null; me: Me | null; onSignOut: () => void }) {
  const [theme, setTheme] = useTheme();
  const [open, setOpen] = useState(false);
  const s = props.site;
  const here = currentPath();
  const link = (path: string, label: string) => (
    <li>
      <a href={href(path)} aria-current={here === path ? "page" : undefined} onClick={() => setOpen(false)}>
        {label}
      </a>
    </li>
  );
  return (
    <header class="topbar">
      <a class="brand" href={href("/")}>
        openbms
      </a>
      <button type="button" class="btn btn--small menu-btn" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
        Menu
      </button>
      <nav id="nav" aria-label="Main" class={open ? "open" : ""}>
        <ul>
          {link("/sites", "Sites")}
          {link("/points", "Points")}
          {s && link(`/sites/${s}`, "Overview")}
          {s && link(`/sites/${s}/alarms`, "Alarms")}
          {s && link(`/sites/${s}/overrides`, "Overrides")}
          {s && link(`/sites/${s}/schedules`, "Schedules")}
          {s && link(`/sites/${s}/programs`, "Programs")}
          {s && link(`/sites/${s}/energy`, "Energy")}
          {s && link(`/sites/${s}/plans`, "Floor plans")}
          {s && link(`/sites/${s}/devices`, "Devices")}
          {isAdmin(props.me) && link("/admin/users", "Users")}
          {link("/admin/tokens", "API tokens")}
          {isAdmin(props.me) && link("/admin/audit", "Audit")}
        </ul>
      </nav>
      <div class="topbar__end">
        <ConnectionIndicator />
        <button
          type="button"
          class="btn btn--small"
          aria-pressed={theme === "dark"}
          onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
          title="Switch between light and dark"
        >
          {theme === "dark" ? "Light" : "Dark"}
        </button>
        {props.me && (
          <span class="who small hide-sm" title={Object.entries(props.me.grants).map(([k, v]) => `${v} on ${k}`).join(", ")}>
            {props.me.name || props.me.email}
          </span>
        )}
        <button type="button" class="btn btn--small" onClick={props.onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}
