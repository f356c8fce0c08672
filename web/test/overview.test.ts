import { describe, expect, it } from "vitest";
import { ApiClient } from "../src/api/client";
import { ApiError } from "../src/api/problem";
import { memoryStore } from "../src/api/tokens";
import { energyToday } from "../src/pages/Overview";

const NOW = 1_700_000_000_000;

function json(status: number, body: unknown, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

const METER = {
  equipment: "main",
  name: "energy",
  description: "",
  unit: "kWh",
  kind: "register",
  site_meter: true,
  previous_same_time_kwh: 80,
  peak: null,
};

/** The energy route as the server answers it: a series for each meter asked for, 422 for a point that is none. */
function server(meters: string[]) {
  const asked: URL[] = [];
  const fetch = async (input: string | URL | Request) => {
    const url = new URL(String(input), "http://127.0.0.1");
    asked.push(url);
    const points = (url.searchParams.get("points") ?? meters.join(",")).split(",");
    const refused = points.find((p) => !meters.includes(p));
    if (refused)
      return json(
        422,
        {
          type: "about:blank",
          title: "Unprocessable Content",
          status: 422,
          errors: [{ loc: ["query", "points"], msg: `${refused} is not a meter`, type: "value_error" }],
        },
        "application/problem+json",
      );
    const series = points.map((point, i) => ({
      ...METER,
      point,
      buckets: [
        { start: 0, end: 86400, date: "2026-03-08", kwh: 100 * (i + 1) },
        { start: 86400, end: 172800, date: "2026-03-09", kwh: 90 * (i + 1) },
      ],
    }));
    return json(200, { site: "west", timezone: "America/Los_Angeles", bucket: "day", until: 100000, series });
  };
  const api = new ApiClient({
    store: memoryStore({ access_token: "a1", refresh_token: "r1", expires_at: NOW + 900e3 }),
    fetch: fetch as unknown as typeof globalThis.fetch,
    now: () => NOW,
  });
  return { api, asked };
}

describe("the Overview's energy tile", () => {
  it("asks for its own point only and shows that meter's figures", async () => {
    const { api, asked } = server(["west/main/energy", "west/sub/demand"]);
    expect(await energyToday(api, "west", "west/sub/demand")).toEqual({ todayKwh: 90, yesterdayKwh: 100, yesterdaySameTimeKwh: 80 });
    const sent = asked.map((u) => [u.pathname, u.searchParams.get("points"), u.searchParams.get("bucket")]);
    expect(sent).toEqual([["/api/v1/sites/west/energy", "west/sub/demand", "day"]]);
  });

  it("shows no figures, not another meter's, for a key point the API says is no meter", async () => {
    const { api } = server(["west/main/energy"]);
    expect(await energyToday(api, "west", "west/sub/power")).toBeNull();
  });

  it("still reports any other failure as one", async () => {
    const { api } = server(["west/main/energy"]);
    const broken = new ApiClient({
      store: memoryStore({ access_token: "a1", refresh_token: "r1", expires_at: NOW + 900e3 }),
      fetch: (async () => json(500, { title: "Internal Server Error", status: 500 })) as unknown as typeof globalThis.fetch,
      now: () => NOW,
    });
    await expect(energyToday(broken, "west", "west/main/energy")).rejects.toBeInstanceOf(ApiError);
    expect(await energyToday(api, "west", "west/main/energy")).not.toBeNull();
  });
});
