// Looking like Airflow: its colours, fonts and light or dark mode, followed live.
//
// Airflow's UI (Chakra UI) keeps its mode as the class "dark" or "light" on its <html> and its
// colours as CSS custom properties (--chakra-colors-*). The page runs in an iframe of that UI
// on the same origin, so it reads both from the parent document: the mode and the values of
// the tokens it uses, copied onto its own <html>, whenever the parent's class changes. So the
// page also follows a theme an Airflow deployment customises. Opened on its own, the page
// falls back to Airflow 3.3's default colours (regrep.css) and to the mode Airflow stored in
// localStorage ("theme": light, dark or system) or the system's.

const COLOURS = [
  "bg", "bg-subtle", "bg-muted", "bg-emphasized", "bg-panel", "bg-error", "bg-info", "bg-warning",
  "fg", "fg-muted", "fg-error", "fg-success", "fg-warning", "fg-info",
  "border", "border-error", "brand-solid", "brand-contrast",
];
// The palettes of Airflow's states that the page's badges use.
const STATES = [
  "success", "failed", "running", "queued", "skipped",
  "up_for_retry", "upstream_failed", "removed", "none",
];
const TOKENS = [
  ...COLOURS.map((name) => `--chakra-colors-${name}`),
  ...STATES.flatMap((state) => [`--chakra-colors-${state}-solid`, `--chakra-colors-${state}-contrast`]),
  "--chakra-fonts-body",
];

function parentRoot() {
  try {
    if (window.parent !== window && window.parent.document) {
      return window.parent.document.documentElement;
    }
  } catch {
    // another origin: nothing to follow
  }
  return null;
}

function storedMode() {
  let stored = null;
  try {
    stored = localStorage.getItem("theme");
  } catch {
    // storage disabled
  }
  if (stored === "dark" || stored === "light") return stored;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function apply() {
  const root = document.documentElement;
  const parent = parentRoot();
  const dark = parent ? parent.classList.contains("dark") : storedMode() === "dark";
  root.classList.toggle("dark", dark);
  root.classList.toggle("light", !dark);
  root.style.colorScheme = dark ? "dark" : "light";
  const computed = parent ? getComputedStyle(parent) : null;
  for (const token of TOKENS) {
    const value = computed?.getPropertyValue(token).trim();
    if (value) root.style.setProperty(token, value);
    else root.style.removeProperty(token);
  }
}

/** Follow Airflow's mode and colours from now on. */
export function followAirflow() {
  apply();
  const parent = parentRoot();
  if (parent) {
    new MutationObserver(apply).observe(parent, { attributes: true, attributeFilter: ["class"] });
  }
  window.addEventListener("storage", (event) => {
    if (event.key === "theme") apply();
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
}
