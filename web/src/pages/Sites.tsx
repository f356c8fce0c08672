/**
 * The sites the user may see; one site opens its overview directly. At a central openbms each
 * site says how far behind the centre is on it ("3 s behind"; the server's `behind` marks it),
 * read again every 10 s.
 */
import { useEffect } from "preact/hooks";
import { endpoints } from "../api/endpoints";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import { href, navigate } from "../router";
import { LagTag, LoadState } from "./common";

export function Sites() {
  const { api } = useApp();
  const sites = useLoad(() => endpoints.sites(api), [api]);
  useEffect(() => {
    if (sites.data?.length === 1) navigate(`/sites/${sites.data[0]!.id}`, true);
  }, [sites.data]);
  const central = sites.data?.some((s) => s.central) ?? false;
  useEffect(() => {
    if (!central) return;
    const timer = setInterval(() => sites.reload(), 10_000);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [central]);
  return (
    <main id="main">
      <h1>Sites</h1>
      <LoadState {...sites} />
      <ul class="cards">
        {sites.data?.map((s) => (
          <li key={s.id} class="card">
            <a href={href(`/sites/${encodeURIComponent(s.id)}`)}>
              <strong>{s.name || s.id}</strong>
            </a>
            <p class="muted">
              {s.equipment} equipment · {s.points} points · {s.timezone}
            </p>
            <LagTag lag={s.central} />
          </li>
        ))}
      </ul>
    </main>
  );
}
