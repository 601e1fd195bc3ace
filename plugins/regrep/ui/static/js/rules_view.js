// Rules: Harbor's replication rules list, with each rule's last execution and its actions.

import { del, get, post, rulePath } from "./api.js";
import { h, icon, replace } from "./dom.js";
import { dateTime, duration } from "./format.js";
import { airflowLink, badge, confirm, failure, toast, toggle } from "./widgets.js";

const REFRESH_MS = 5000;

const ruleHref = (name, rest = "") => `#/rules/${encodeURIComponent(name)}${rest}`;

function lastExecution(rule) {
  const last = rule.last_execution;
  if (!last) return [h("td", { class: "muted" }, "never run"), h("td"), h("td")];
  const counts = last.counts;
  return [
    h(
      "td",
      { class: "nowrap" },
      h("a", { href: ruleHref(rule.name, `/runs/${encodeURIComponent(last.run_id)}`) }, badge(last.state)),
      h("div", { class: "cell-sub" }, dateTime(last.start_date || last.queued_at)),
    ),
    h("td", { class: "nowrap" }, duration(last.duration_seconds)),
    h(
      "td",
      {},
      h(
        "span",
        { class: "counts", title: "copied / unchanged / failed" },
        h("span", { class: "ok" }, `${counts.copied} copied`),
        h("span", {}, `${counts.unchanged} unchanged`),
        h("span", { class: counts.failed ? "bad" : "" }, `${counts.failed} failed`),
      ),
    ),
  ];
}

function actionButton(name, label, onclick, { disabled = false, title = label, danger = false } = {}) {
  return h(
    "button",
    {
      class: ["button", "ghost", "icon-only", danger && "danger-icon"],
      type: "button",
      title,
      "aria-label": label,
      disabled,
      onclick,
    },
    icon(name),
  );
}

function actions(rule, refresh) {
  const active = rule.active_run_ids ?? [];
  const run = async () => {
    try {
      const started = await post(rulePath(rule.name, "/run"));
      toast(`Started ${started.run_id}`);
      refresh();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const stop = async () => {
    const runId = active[0]; // the oldest: the one running (one execution at a time)
    const ok = await confirm(
      "Stop execution",
      `Stop ${runId}? Resources already copied stay copied; the others are stopped.`,
      "Stop",
      true,
    );
    if (!ok) return;
    try {
      const stopped = await post(rulePath(rule.name, `/executions/${encodeURIComponent(runId)}/stop`));
      toast(`Stopped ${runId}: ${stopped.ended.length} unfinished task(s) ended`);
      refresh();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const remove = async () => {
    const ok = await confirm(
      "Delete rule",
      `Delete the rule ${rule.name}? Its file ${rule.file} and its DAG ${rule.dag_id} are removed.`,
      "Delete",
      true,
    );
    if (!ok) return;
    try {
      await del(rulePath(rule.name));
      toast(`Deleted rule ${rule.name}`);
      refresh();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const busy = active.length > 0;
  return h(
    "div",
    { class: "actions" },
    actionButton("play", "Replicate now", run, {
      disabled: !rule.valid || !rule.rule?.enabled,
      title: rule.valid && !rule.rule.enabled ? "Enable the rule to replicate" : "Replicate now",
    }),
    actionButton("stop", "Stop", stop, {
      disabled: !busy,
      title: busy ? `Stop ${active[0]}` : "No execution in progress",
    }),
    h(
      "a",
      { class: "button ghost icon-only", href: ruleHref(rule.name, "/edit"), title: "Edit", "aria-label": "Edit" },
      icon("edit"),
    ),
    actionButton("trash", "Delete", remove, {
      disabled: busy,
      danger: true,
      title: busy ? `Refused while executions are queued or running: ${active.join(", ")}` : "Delete",
    }),
  );
}

function enabledSwitch(rule, refresh) {
  if (!rule.valid) return h("span", { class: "muted" }, "–");
  const enabled = rule.rule.enabled && rule.dag.is_paused !== true;
  const onchange = async (event) => {
    const on = event.target.checked;
    try {
      await post(rulePath(rule.name, on ? "/enable" : "/disable"));
      toast(`${on ? "Enabled" : "Disabled"} ${rule.name}`);
    } catch (error) {
      toast(error.message, "error");
    }
    refresh();
  };
  return h(
    "div",
    { class: "row" },
    toggle(enabled, `${enabled ? "Disable" : "Enable"} ${rule.name}`, onchange),
    rule.rule.enabled && rule.dag.is_paused ? h("span", { class: "cell-sub" }, "paused in Airflow") : null,
  );
}

function validRow(rule, refresh) {
  const s = rule.summary;
  const namespace = s.destination_namespace ? h("span", { class: "cell-sub" }, ` / ${s.destination_namespace}`) : null;
  return h(
    "tr",
    { dataset: { rule: rule.name } },
    h(
      "td",
      {},
      h("a", { class: "cell-title", href: ruleHref(rule.name) }, rule.name),
      rule.rule.description ? h("div", { class: "cell-sub" }, rule.rule.description) : null,
    ),
    h("td", {}, s.mode ? `${s.mode}-based` : h("span", { class: "muted" }, "–")),
    h("td", { class: "nowrap" }, s.source, h("span", { class: "arrow" }, "→"), s.destination, namespace),
    h("td", {}, s.filters),
    h("td", {}, s.trigger),
    h("td", {}, enabledSwitch(rule, refresh)),
    lastExecution(rule),
    h("td", {}, actions(rule, refresh)),
  );
}

function invalidRow(rule, refresh) {
  return h(
    "tr",
    { dataset: { rule: rule.name } },
    h(
      "td",
      {},
      h("span", { class: "cell-title" }, rule.name),
      h("div", { class: "cell-sub" }, rule.file),
    ),
    h(
      "td",
      { colspan: 8 },
      h("div", { class: "row" }, badge("invalid", "Invalid"), h("span", { class: "muted" }, `${rule.file}:`)),
      h("ul", { class: "small" }, rule.problems.map((p) => h("li", {}, p))),
    ),
    h("td", {}, actions(rule, refresh)),
  );
}

export async function renderRules(container) {
  let timer = null;
  const draw = async () => {
    clearTimeout(timer);
    let listing;
    try {
      listing = await get("rules");
    } catch (error) {
      replace(container, failure(error));
      return;
    }
    const rules = listing.rules;
    const body = rules.length
      ? rules.map((rule) => (rule.valid ? validRow(rule, draw) : invalidRow(rule, draw)))
      : h("tr", {}, h("td", { colspan: 10, class: "empty" }, "No replication rules yet: create one with New rule."));
    replace(
      container,
      h(
        "div",
        { class: "toolbar" },
        h("h2", {}, `${rules.length} ${rules.length === 1 ? "Rule" : "Rules"}`),
        h("span", { class: "muted small" }, `in ${listing.rules_dir}`),
        h("span", { class: "spacer" }),
        h("a", { class: "button solid", href: "#/rules/new" }, icon("plus"), "New rule"),
      ),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { "aria-label": "Replication rules" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Name", "Mode", "Source → Destination", "Filters", "Trigger", "Enabled", "Last execution", "Duration", "Resources", ""].map(
                (title) => h("th", {}, title),
              ),
            ),
          ),
          h("tbody", {}, body),
        ),
      ),
      h(
        "p",
        { class: "muted small" },
        "Each rule is the DAG replicate_NAME: see its runs in ",
        airflowLink("dags?tags=regrep", "Dags"),
        ".",
      ),
    );
    if (rules.some((rule) => (rule.active_run_ids ?? []).length)) timer = setTimeout(draw, REFRESH_MS);
  };
  await draw();
  return () => clearTimeout(timer);
}
