/** Light and dark: the system's preference unless the user chose, remembered per browser. */
import { useEffect, useState } from "preact/hooks";

export type Theme = "light" | "dark";
const KEY = "openbms.theme";
const listeners = new Set<(t: Theme) => void>();

function systemTheme(): Theme {
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function currentTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  return saved === "light" || saved === "dark" ? saved : systemTheme();
}

export function applyTheme(t: Theme = currentTheme()): void {
  document.documentElement.dataset.theme = t;
}

export function setTheme(t: Theme): void {
  localStorage.setItem(KEY, t);
  applyTheme(t);
  for (const fn of listeners) fn(t);
}

export function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, set] = useState(currentTheme);
  useEffect(() => {
    listeners.add(set);
    const mq = matchMedia("(prefers-color-scheme: dark)");
    const onSystem = () => {
      if (!localStorage.getItem(KEY)) {
        applyTheme();
        set(currentTheme());
      }
    };
    mq.addEventListener("change", onSystem);
    return () => {
      listeners.delete(set);
      mq.removeEventListener("change", onSystem);
    };
  }, []);
  return [theme, setTheme];
}
