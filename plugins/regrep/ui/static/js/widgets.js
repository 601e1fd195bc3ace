// The page's small building blocks, each modelled on an Airflow UI one: state badges,
// switches, toasts, confirmation dialogs, and links into Airflow's own pages.

import { ApiError } from "./api.js";
import { h, icon } from "./dom.js";

// The Airflow colour palette of each state the page shows: runs, resources, previews, tests.
const PALETTES = {
  success: "success",
  failed: "failed",
  running: "running",
  queued: "queued",
  copied: "success",
  skipped: "skipped",
  unchanged: "none",
  deleted: "removed",
  stopped: "upstream_failed",
  in_progress: "running",
  new: "success",
  changed: "up_for_retry",
  in_place: "none",
  invalid: "failed",
  ok: "success",
  error: "failed",
};
const ICONS = { success: "check", copied: "check", ok: "check", failed: "cross", error: "cross", invalid: "cross" };

/** A solid pill in the state's colour, as Airflow's state badge. */
export function badge(state, label = undefined) {
  const text = label ?? state.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
  const name = ICONS[state];
  return h(
    "span",
    { class: ["badge", `s-${PALETTES[state] ?? "none"}`], dataset: { state } },
    name ? icon(name, 14) : null,
    text,
  );
}

/** Airflow's switch (its DAG pause toggle). */
export function toggle(checked, label, onchange, disabled = false) {
  const input = h("input", { type: "checkbox", checked, disabled, "aria-label": label, onchange });
  return h("label", { class: "switch", title: label }, input, h("span"));
}

let toastArea = null;

/** A short message in the corner, as Airflow's toaster. */
export function toast(message, kind = "success") {
  if (!toastArea) {
    toastArea = h("div", { class: "toasts", role: "status" });
    document.body.append(toastArea);
  }
  const note = h("div", { class: ["toast", kind === "error" && "error"] }, message);
  toastArea.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 10000 : 5000);
}

/** Ask before doing something that cannot be undone; resolves to true when confirmed. */
export function confirm(title, text, action, danger = false) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { "aria-label": title });
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h("h2", {}, title),
      h("p", {}, text),
      h(
        "div",
        { class: "row" },
        h("button", { class: "button", type: "button", onclick: () => close(false) }, "Cancel"),
        h(
          "button",
          { class: ["button", danger ? "danger" : "solid"], type: "button", onclick: () => close(true) },
          action,
        ),
      ),
    );
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** The address of an Airflow UI page, from a path relative to the UI's root. */
export function airflowUrl(path) {
  return new URL(path, new URL("../../", window.location.href));
}

/** Airflow's window around the page, when the page is shown inside Airflow's UI. */
export function airflowWindow() {
  try {
    if (window.parent !== window && window.parent.location.origin === window.location.origin) {
      return window.parent;
    }
  } catch {
    // another origin
  }
  return null;
}

/**
 * A link to an Airflow page. Inside Airflow, the page runs in a sandboxed iframe that may
 * not navigate the top window, so the link moves Airflow's own router instead (a history
 * entry and the popstate event its router listens to); on its own, it is a plain link.
 */
export function airflowLink(path, ...children) {
  const url = airflowUrl(path);
  return h(
    "a",
    {
      href: url.href,
      onclick: (event) => {
        const top = airflowWindow();
        if (!top || event.ctrlKey || event.metaKey || event.shiftKey) return;
        event.preventDefault();
        const index = (top.history.state?.idx ?? 0) + 1;
        const state = { usr: null, key: Math.random().toString(36).slice(2, 10), idx: index };
        top.history.pushState(state, "", url.pathname + url.search + url.hash);
        top.dispatchEvent(new PopStateEvent("popstate", { state }));
      },
    },
    ...children,
  );
}

/** A refusal of the API as an alert. */
export function errorAlert(error) {
  const problems = error.fieldErrors ?? [];
  return h(
    "div",
    { class: "alert error", role: "alert" },
    h(
      "div",
      {},
      error.message,
      problems.length
        ? h("ul", {}, problems.map((p) => h("li", {}, p.field ? `${p.field}: ${p.message}` : p.message)))
        : null,
    ),
  );
}

/** A view's failure: the login link once the Airflow session has ended, else the error. */
export function failure(error) {
  if (error instanceof ApiError && error.status === 401) {
    const next = airflowUrl("plugin/replication").pathname;
    const login = airflowUrl(`auth/login?next=${encodeURIComponent(next)}`);
    return h(
      "div",
      { class: "alert warning", role: "alert" },
      "Your Airflow session has ended. ",
      h("a", { href: login.href, target: "_top" }, "Log in again"),
    );
  }
  return errorAlert(error);
}

/**
 * Show the page's screen in Airflow's address bar too (its #fragment after the page's
 * address there), so a reload or a shared link opens the same screen. Airflow's router is
 * not told: the address changes, the page stays.
 */
export function mirrorAddress() {
  const top = airflowWindow();
  if (!top || !top.location.pathname.includes("/plugin/")) return;
  const address = `${top.location.pathname}${top.location.search}${window.location.hash}`;
  top.history.replaceState(top.history.state, "", address);
}
