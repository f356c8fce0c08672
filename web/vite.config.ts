// Builds the dashboard into the Python package (src/openbms/web_static/), which the
// openbms process serves; `npm run dev` proxies the API to a local `openbms run`.
import { defineConfig } from "vitest/config";

const api = process.env.OPENBMS_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  // The editor's canvas (@xyflow/react) is written for React: Preact's compat layer stands in for it.
  resolve: {
    alias: {
      react: "preact/compat",
      "react-dom": "preact/compat",
    },
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../src/openbms/web_static",
    emptyOutDir: true,
    target: "es2022",
    // Everything is bundled: the dashboard must work on a plant-room network with no internet.
    assetsInlineLimit: 4096,
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false, ws: true },
    },
  },
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
  },
});
