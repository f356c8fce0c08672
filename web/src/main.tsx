/** Start the dashboard: the API client, the live connection, the theme, the app. */
import { render } from "preact";
import { ApiClient } from "./api/client";
import { localStore } from "./api/tokens";
import { LiveClient, wsUrl } from "./api/ws";
import { App } from "./app";
import { currentPath, navigate, signInPath } from "./router";
import { applyTheme } from "./theme";
import "./styles.css";

applyTheme();

const expired = { value: false };
const api = new ApiClient({
  store: localStore(),
  // The session ended (refresh refused): sign in again, then come back here.
  onSignedOut: () => {
    live.stop();
    expired.value = true;
    navigate(signInPath(currentPath()), true);
  },
});
const live = new LiveClient({
  url: wsUrl(),
  token: () => api.accessToken(),
  renewToken: () => api.refresh(),
});

// The browser coming back online: reconnect now rather than at the next backoff step.
addEventListener("online", () => live.retryNow());

render(<App ctx={{ api, live }} expired={expired} />, document.getElementById("app")!);
