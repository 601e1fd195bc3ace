// Executions: Harbor's execution list of a rule (one per DAG run) and one execution's
// resources, each with its state, size, duration and a link to its task's log in Airflow.

import { get, post, rulePath } from "./api.js";
import { h, icon, replace } from "./dom.js";
import { bytes, dateTime, duration, percent } from "./format.js";
import { airflowLink, badge, confirm, failure, toast } from "./widgets.js";

const REFRESH_MS = 3000;
const ACTIVE = new Set(["queued", "running"]);
const TRIGGERS = { manual: "Manual", scheduled: "Scheduled", event_based: "Event based" };
const runHref = (name, runId) => `#/rules/${encodeURIComponent(name)}/runs/${encodeURIComponent(runId)}`;

function header(rule, ...extra) {
  const summary = rule.valid
    ? `${rule.summary.source} → ${rule.summary.destination}${rule.summary.destination_namespace ? ` / ${rule.summary.destination_namespace}` : ""} · ${rule.summary.trigger}`
    : `${rule.file} is invalid`;
  return h(
    "div",
    { class: "toolbar" },
    h("a", { class: "button ghost icon-only", href: "#/rules", "aria-label": "Back to the rules" }, icon("back")),
    h(
      "div",
      { class: "stack" },
      h("div", { class: "crumbs" }, h("a", { href: "#/rules" }, "Rules"), " / ", rule.name),
      h("div", { class: "heading" }, h("span", { class: "title" }, rule.name), h("span", { class: "muted" }, summary)),
    ),
    h("span", { class: "spacer" }),
    ...extra,
  );
}

function replicateButton(rule, after) {
  return h(
    "button",
    {
      class: "button solid",
      type: "button",
      disabled: !rule.valid || !rule.rule.enabled,
      onclick: async () => {
        try {
          const started = await post(rulePath(rule.name, "/run"));
          toast(`Started ${started.run_id}`);
          after();
        } catch (error) {
          toast(error.message, "error");
        }
      },
    },
    icon("play"),
    "Replicate now",
  );
}

function countsCells(row) {
  return [
    h("td", { class: "num" }, row.counts.copied),
    h("td", { class: "num" }, row.counts.unchanged),
    h("td", { class: ["num", row.counts.failed && "bad"] }, row.counts.failed),
    h("td", { class: "num" }, row.total),
    h("td", { class: "num" }, percent(row.success_rate)),
  ];
}

export async function renderExecutions(container, name) {
  let timer = null;
  const draw = async () => {
    clearTimeout(timer);
    let rule;
    let listing;
    try {
      [rule, listing] = await Promise.all([get(rulePath(name)), get(rulePath(name, "/executions"))]);
    } catch (error) {
      replace(container, failure(error));
      return;
    }
    const rows = listing.executions.map((row) =>
      h(
        "tr",
        { class: "clickable", dataset: { run: row.run_id }, onclick: (e) => {
          if (e.target.closest("a")) return;
          window.location.hash = runHref(name, row.run_id);
        } },
        h("td", {}, h("a", { class: "cell-title", href: runHref(name, row.run_id) }, row.run_id)),
        h("td", {}, TRIGGERS[row.trigger] ?? row.trigger, row.triggered_by ? h("div", { class: "cell-sub" }, row.triggered_by) : null),
        h("td", { class: "nowrap" }, dateTime(row.start_date || row.queued_at)),
        h("td", { class: "nowrap" }, duration(row.duration_seconds)),
        h("td", {}, badge(row.state)),
        countsCells(row),
      ),
    );
    replace(
      container,
      header(
        rule,
        h("a", { class: "button", href: `#/rules/${encodeURIComponent(name)}/edit` }, icon("edit"), "Edit"),
        replicateButton(rule, draw),
      ),
      h("h2", {}, `${rows.length} ${rows.length === 1 ? "Execution" : "Executions"}`),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { "aria-label": "Executions" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "Execution"),
              h("th", {}, "Trigger"),
              h("th", {}, "Start"),
              h("th", {}, "Duration"),
              h("th", {}, "State"),
              ["Copied", "Unchanged", "Failed", "Total", "Success rate"].map((t) => h("th", { class: "num" }, t)),
            ),
          ),
          h(
            "tbody",
            {},
            rows.length ? rows : h("tr", {}, h("td", { colspan: 10, class: "empty" }, "No executions yet: Replicate now starts one.")),
          ),
        ),
      ),
    );
    if (listing.executions.some((row) => ACTIVE.has(row.state))) timer = setTimeout(draw, REFRESH_MS);
  };
  await draw();
  return () => clearTimeout(timer);
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

export async function renderExecution(container, name, runId) {
  let timer = null;
  const draw = async () => {
    clearTimeout(timer);
    let rule;
    let run;
    try {
      [rule, run] = await Promise.all([
        get(rulePath(name)),
        get(rulePath(name, `/executions/${encodeURIComponent(runId)}`)),
      ]);
    } catch (error) {
      replace(container, failure(error));
      return;
    }
    const active = ACTIVE.has(run.state);
    const stop = h(
      "button",
      {
        class: "button",
        type: "button",
        disabled: !active,
        onclick: async () => {
          const ok = await confirm("Stop execution", `Stop ${runId}? Resources already copied stay copied.`, "Stop", true);
          if (!ok) return;
          try {
            const stopped = await post(rulePath(name, `/executions/${encodeURIComponent(runId)}/stop`));
            toast(`Stopped: ${stopped.ended.length} unfinished task(s) ended`);
          } catch (error) {
            toast(error.message, "error");
          }
          draw();
        },
      },
      icon("stop"),
      "Stop",
    );
    const rows = run.resources.map((resource) =>
      h(
        "tr",
        { dataset: { resource: resource.resource } },
        h("td", { class: "nowrap" }, resource.resource),
        h("td", { class: "nowrap" }, resource.destination ?? ""),
        h("td", {}, badge(resource.status)),
        h("td", { class: "num nowrap" }, bytes(resource.bytes)),
        h("td", { class: "num nowrap" }, resource.seconds === null || resource.seconds === undefined ? "" : `${resource.seconds.toFixed(1)} s`),
        h("td", { class: "cell-sub", title: resource.message }, resource.message.length > 140 ? `${resource.message.slice(0, 137)}…` : resource.message),
        h("td", {}, airflowLink(resource.log_path, icon("log", 14), " Log")),
      ),
    );
    const c = run.counts;
    replace(
      container,
      header(rule, airflowLink(run.run_path, "Open in Airflow"), stop),
      h(
        "div",
        { class: "heading" },
        h("h2", {}, run.run_id),
        badge(run.state),
        h("span", { class: "muted" }, `${TRIGGERS[run.trigger] ?? run.trigger}${run.triggered_by ? ` by ${run.triggered_by}` : ""}`),
      ),
      h(
        "div",
        { class: "stats" },
        stat("Start", dateTime(run.start_date || run.queued_at) || "–"),
        stat("Duration", duration(run.duration_seconds) || "–"),
        stat("Copied", c.copied),
        stat("Unchanged", c.unchanged),
        stat("Skipped", c.skipped),
        stat("Failed", c.failed),
        stat("Stopped", c.stopped),
        stat("In progress", c.in_progress),
        stat("Total", run.total),
        stat("Data copied", bytes(run.bytes_copied)),
      ),
      run.planned
        ? null
        : h("div", { class: "alert" }, active ? "Planning: the source is being listed." : `Nothing was replicated: the plan task ended ${run.plan_state ?? "without running"}.`),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { "aria-label": "Resources" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "Resource"),
              h("th", {}, "Destination"),
              h("th", {}, "State"),
              h("th", { class: "num" }, "Size"),
              h("th", { class: "num" }, "Duration"),
              h("th", {}, "Message"),
              h("th", {}, "Log"),
            ),
          ),
          h(
            "tbody",
            {},
            rows.length
              ? rows
              : h("tr", {}, h("td", { colspan: 7, class: "empty" }, run.planned ? `Everything was in place (${run.unchanged} unchanged).` : "No resources yet.")),
          ),
        ),
      ),
    );
    if (active) timer = setTimeout(draw, REFRESH_MS);
  };
  await draw();
  return () => clearTimeout(timer);
}
