// The rule form (new and edit), Harbor's "New Replication Rule" dialog: every field of a
// rule, endpoints chosen among regrep's connections, each problem the API finds beside its
// field, and a preview of what the rule would replicate now, before it is saved.

import { ApiError, get, post, put, rulePath } from "./api.js";
import { h, icon, replace } from "./dom.js";
import { badge, errorAlert, toast } from "./widgets.js";

const FLATTENING = [
  ["", "Flatten 1 level (Harbor's default)"],
  ["0", "No flattening"],
  ["1", "Flatten 1 level"],
  ["2", "Flatten 2 levels"],
  ["3", "Flatten 3 levels"],
  ["-1", "Flatten all levels"],
];

// The form's controls, by the field path the API names in its errors.
class Controls {
  constructor() {
    this.byField = new Map();
  }

  field(path, label, control, hint = "") {
    const error = h("div", { class: "error", role: "alert", hidden: true });
    const id = `f-${path.replaceAll(".", "-")}`;
    control.id = control.id || id;
    control.dataset.field = path;
    const wrapper = h(
      "div",
      { class: "field", dataset: { field: path } },
      h("label", { for: control.id }, label),
      control,
      hint ? h("div", { class: "hint" }, hint) : null,
      error,
    );
    this.byField.set(path, { wrapper, control, error });
    return wrapper;
  }

  check(path, label, checked, hint = "") {
    const control = h("input", { type: "checkbox", checked, id: `f-${path.replaceAll(".", "-")}` });
    control.dataset.field = path;
    const error = h("div", { class: "error", role: "alert", hidden: true });
    const wrapper = h(
      "div",
      { class: "field", dataset: { field: path } },
      h("label", { class: "check" }, control, label),
      hint ? h("div", { class: "hint" }, hint) : null,
      error,
    );
    this.byField.set(path, { wrapper, control, error });
    return wrapper;
  }

  get(path) {
    return this.byField.get(path).control;
  }

  clearErrors() {
    for (const { wrapper, error } of this.byField.values()) {
      wrapper.classList.remove("invalid");
      error.hidden = true;
      error.textContent = "";
    }
  }

  /** Put each problem beside the field it names (or its closest parent); return the rest. */
  showErrors(errors) {
    const unplaced = [];
    for (const problem of errors) {
      let path = problem.field;
      while (path && !this.byField.has(path)) path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
      const target = this.byField.get(path);
      if (!target) {
        unplaced.push(problem);
        continue;
      }
      target.wrapper.classList.add("invalid");
      target.error.hidden = false;
      target.error.textContent = target.error.textContent
        ? `${target.error.textContent} ${problem.message}`
        : problem.message;
    }
    const first = [...this.byField.values()].find(({ wrapper }) => wrapper.classList.contains("invalid"));
    first?.control.focus();
    return unplaced;
  }
}

const input = (value, attrs = {}) => h("input", { type: "text", value: value ?? "", ...attrs });
const number = (value, attrs = {}) => h("input", { type: "number", value: value ?? "", ...attrs });
const select = (value, options) =>
  h(
    "select",
    {},
    options.map(([v, label]) => h("option", { value: v, selected: String(value ?? "") === v }, label)),
  );
const list = (text) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
const asNumber = (text) => (text.trim() === "" ? undefined : Number.isNaN(Number(text)) ? text : Number(text));

function endpointOptions(endpoints, current) {
  const options = [["", "Choose an endpoint"], ...endpoints.map((e) => [e.conn_id, `${e.conn_id} (${e.type}) ${e.url}`])];
  if (current && !endpoints.some((e) => e.conn_id === current)) options.push([current, `${current} (not found)`]);
  return options;
}

/** The rule's fields as the form shows them, from the API's rule (or an invalid file's). */
function initialValues(source) {
  const rule = source ?? {};
  const filters = rule.filters ?? {};
  const decorated = (value) => (typeof value === "string" ? { pattern: value } : value ?? {});
  const name = decorated(filters.name);
  const tag = decorated(filters.tag);
  const platforms = Array.isArray(filters.platforms) ? { values: filters.platforms } : filters.platforms ?? null;
  return {
    name: rule.name ?? "",
    description: rule.description ?? "",
    mode: rule.mode ?? "",
    enabled: rule.enabled ?? true,
    source: rule.source ?? "",
    destination: rule.destination ?? "",
    filterName: name.pattern ?? "",
    nameDecoration: name.decoration ?? "matches",
    tagPattern: tag.pattern ?? "",
    tagDecoration: tag.decoration ?? "matches",
    resource: filters.resource ?? "",
    labelsInclude: (filters.labels?.include ?? []).join(", "),
    labelsExclude: (filters.labels?.exclude ?? []).join(", "),
    platforms: (platforms?.values ?? []).join(", "),
    platformResult: platforms?.result ?? "index",
    namespace: rule.destination_namespace ?? "",
    replaceCount: rule.destination_namespace ? String(rule.destination_namespace_replace_count ?? "") : "",
    override: rule.override ?? true,
    copyReferrers: rule.copy_referrers ?? true,
    trigger: rule.trigger?.type ?? "manual",
    cron: rule.trigger?.cron ?? "",
    replicateDeletion: rule.replicate_deletion ?? false,
    retries: rule.retries ?? 3,
    retryDelay: rule.retry_delay_minutes ?? 5,
    blobs: rule.max_concurrent_blobs ?? 4,
    byChunk: rule.copy_by_chunk ?? false,
    chunkSize: rule.chunk_size_mib ?? "",
    speed: rule.speed_limit_kbps ?? "",
    workerQueue: rule.worker_queue ?? "",
    notify: Array.isArray(rule.notify) ? rule.notify : rule.notify ? [rule.notify] : [],
  };
}

function buildForm(c, values, endpoints, editing) {
  const v = values;
  const notifyTargets = endpoints.http_connections.map((e) => e.conn_id);
  const notifyHint = notifyTargets.length
    ? `HTTP connections: ${notifyTargets.join(", ")}`
    : "No connection of the HTTP type yet: add one in Admin › Connections.";
  const general = h(
    "fieldset",
    {},
    h("legend", {}, "Rule"),
    c.field(
      "name",
      "Name",
      input(v.name, { readonly: editing, autocomplete: "off", placeholder: "mirror-library" }),
      editing ? "A rule keeps its name (its DAG is replicate_NAME)." : "Lowercase letters, digits, '.', '_' and '-'.",
    ),
    c.field("description", "Description", input(v.description)),
    c.field(
      "mode",
      "Replication mode",
      select(v.mode, [["", "Either side (no local side assumed)"], ["pull", "Pull-based: the destination is yours"], ["push", "Push-based: the source is yours"]]),
    ),
    c.check("enabled", "Enabled", v.enabled, "Disabled: the DAG is paused and refuses to run."),
  );
  const source = h(
    "fieldset",
    {},
    h("legend", {}, "Source"),
    c.field("source", "Source endpoint", select(v.source, endpointOptions(endpoints.endpoints, v.source))),
    h(
      "div",
      { class: "fields-2" },
      c.field("filters.name", "Name filter", input(v.filterName, { placeholder: "library/**" }), "Repositories: * ** ? {a,b}; empty for all."),
      c.field("filters.name.decoration", "Repositories", select(v.nameDecoration, [["matches", "matching"], ["excludes", "excluding"]])),
    ),
    h(
      "div",
      { class: "fields-2" },
      c.field("filters.tag", "Tag filter", input(v.tagPattern, { placeholder: "v*" })),
      c.field("filters.tag.decoration", "Tags", select(v.tagDecoration, [["matches", "matching"], ["excludes", "excluding"]])),
    ),
    c.field("filters.resource", "Resource filter", select(v.resource, [["", "All"], ["image", "Images"], ["chart", "Helm charts"], ["artifact", "Other artifacts"]])),
    h(
      "div",
      { class: "fields-2" },
      c.field("filters.labels.include", "Labels to include", input(v.labelsInclude), "Harbor sources; comma-separated."),
      c.field("filters.labels.exclude", "Labels to exclude", input(v.labelsExclude)),
    ),
    h(
      "div",
      { class: "fields-2" },
      c.field("filters.platforms", "Platforms", input(v.platforms, { placeholder: "linux/amd64, linux/arm64" })),
      c.field("filters.platforms.result", "Copied as", select(v.platformResult, [["index", "a smaller index"], ["manifest", "the first platform's image"]])),
    ),
  );
  const destination = h(
    "fieldset",
    {},
    h("legend", {}, "Destination"),
    c.field("destination", "Destination endpoint", select(v.destination, endpointOptions(endpoints.endpoints, v.destination))),
    h(
      "div",
      { class: "fields-2" },
      c.field("destination_namespace", "Namespace", input(v.namespace, { placeholder: "mirror" }), "Empty: repository names are kept."),
      c.field("destination_namespace_replace_count", "Flattening", select(v.replaceCount, FLATTENING)),
    ),
    c.check("override", "Override", v.override, "Overwrite a destination tag that points at another digest."),
    c.check("copy_referrers", "Copy signatures, SBOMs and attestations", v.copyReferrers),
  );
  const cron = c.field("trigger.cron", "Cron", input(v.cron, { placeholder: "0 2 * * *" }), "Five fields, or Harbor's six with seconds 0.");
  const deletion = c.check(
    "replicate_deletion",
    "Delete remote resources when locally deleted",
    v.replicateDeletion,
  );
  const triggerSelect = select(v.trigger, [["manual", "Manual"], ["scheduled", "Scheduled"], ["event_based", "Event based"]]);
  const showTrigger = () => {
    cron.hidden = triggerSelect.value !== "scheduled";
    deletion.hidden = triggerSelect.value !== "event_based";
  };
  triggerSelect.addEventListener("change", showTrigger);
  const trigger = h("fieldset", {}, h("legend", {}, "Trigger"), c.field("trigger", "Trigger mode", triggerSelect), cron, deletion);
  showTrigger();
  const execution = h(
    "fieldset",
    {},
    h("legend", {}, "Execution"),
    h(
      "div",
      { class: "fields-2" },
      c.field("retries", "Retries", number(v.retries, { min: 0 })),
      c.field("retry_delay_minutes", "Retry delay (minutes)", number(v.retryDelay, { min: 0 })),
      c.field("max_concurrent_blobs", "Blobs at once", number(v.blobs, { min: 1 })),
      c.field("speed_limit_kbps", "Speed limit (KiB/s)", number(v.speed, { min: 1, placeholder: "no limit" })),
    ),
    c.check("copy_by_chunk", "Copy by chunk", v.byChunk, "Upload blobs in chunks, resuming an interrupted one."),
    c.field("chunk_size_mib", "Chunk size (MiB)", number(v.chunkSize, { min: 1, placeholder: "default" })),
    c.field(
      "worker_queue",
      "Worker queue",
      input(v.workerQueue, { autocomplete: "off", placeholder: "Airflow's default queue" }),
      "The Celery queue of the rule's tasks, served by workers near the registries (airflow celery worker -q NAME). The LocalExecutor ignores it.",
    ),
  );
  const notify = h(
    "fieldset",
    {},
    h("legend", {}, "Notifications"),
    c.field(
      "notify",
      "Notify when an execution ends",
      input(v.notify.join(", "), { placeholder: notifyTargets[0] ?? "connection id" }),
      `Harbor's replication webhook to these connections (comma-separated). ${notifyHint}`,
    ),
  );
  return [general, source, destination, trigger, execution, notify];
}

/** The rule the form describes, as the API takes it; empty optional fields are left out. */
function ruleBody(c) {
  const text = (path) => c.get(path).value.trim();
  const checked = (path) => c.get(path).checked;
  const body = {
    name: text("name"),
    source: text("source"),
    destination: text("destination"),
    filters: {
      name: { pattern: text("filters.name"), decoration: c.get("filters.name.decoration").value },
      tag: { pattern: text("filters.tag"), decoration: c.get("filters.tag.decoration").value },
      labels: { include: list(text("filters.labels.include")), exclude: list(text("filters.labels.exclude")) },
    },
    trigger: { type: c.get("trigger").value },
    override: checked("override"),
    enabled: checked("enabled"),
    copy_referrers: checked("copy_referrers"),
    replicate_deletion: c.get("trigger").value === "event_based" && checked("replicate_deletion"),
    copy_by_chunk: checked("copy_by_chunk"),
    notify: list(text("notify")),
  };
  if (text("description")) body.description = text("description");
  if (text("worker_queue")) body.worker_queue = text("worker_queue");
  if (c.get("mode").value) body.mode = c.get("mode").value;
  if (text("filters.resource")) body.filters.resource = text("filters.resource");
  if (text("filters.platforms")) {
    body.filters.platforms = { values: list(text("filters.platforms")), result: c.get("filters.platforms.result").value };
  }
  if (text("destination_namespace")) {
    body.destination_namespace = text("destination_namespace");
    const count = c.get("destination_namespace_replace_count").value;
    if (count !== "") body.destination_namespace_replace_count = Number(count);
  }
  if (body.trigger.type === "scheduled") body.trigger.cron = text("trigger.cron");
  for (const [field, path] of [
    ["retries", "retries"],
    ["retry_delay_minutes", "retry_delay_minutes"],
    ["max_concurrent_blobs", "max_concurrent_blobs"],
    ["chunk_size_mib", "chunk_size_mib"],
    ["speed_limit_kbps", "speed_limit_kbps"],
  ]) {
    const value = asNumber(c.get(path).value);
    if (value !== undefined) body[field] = value;
  }
  return body;
}

function previewPanel(result) {
  const counts = result.counts;
  const scope = result.complete
    ? `${result.total} tag(s) selected at the source`
    : `at least ${result.total} tag(s) selected (${result.repositories_listed} of ${result.repositories} repositories listed in time)`;
  const first = result.inspected < result.total ? `; the first ${result.inspected} inspected` : "";
  const rows = result.items.map((item) =>
    h(
      "tr",
      {},
      h("td", {}, item.source),
      h("td", {}, item.destination),
      h("td", {}, badge(item.status, item.status === "in_place" ? "In place" : undefined)),
      h("td", { class: "cell-sub" }, item.note),
    ),
  );
  return [
    h("h2", {}, "Preview"),
    h("div", { class: "muted" }, `${scope}${first}. Nothing was copied (${result.seconds} s).`),
    h(
      "div",
      { class: "preview-summary" },
      badge("new", `${counts.new} new`),
      badge("changed", `${counts.changed} changed`),
      badge("in_place", `${counts.in_place} in place`),
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "aria-label": "Preview" },
        h("thead", {}, h("tr", {}, ["Source", "Destination", "Status", ""].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          rows.length ? rows : h("tr", {}, h("td", { colspan: 4, class: "empty" }, "The rule selects nothing at the source now.")),
        ),
      ),
    ),
  ];
}

export async function renderRuleForm(container, name) {
  const [endpoints, existing] = await Promise.all([
    get("endpoints").catch(() => ({ endpoints: [], http_connections: [] })),
    name ? get(rulePath(name)) : Promise.resolve(null),
  ]);
  const editing = Boolean(existing);
  const c = new Controls();
  const values = initialValues(existing?.valid ? existing.rule : existing?.document ?? { name });
  if (editing) values.name = existing.name;
  const general = h("div");
  const preview = h("div", { class: "panel", hidden: true, "aria-label": "Preview of the rule" });
  const save = h("button", { class: "button solid", type: "submit" }, "Save");
  const previewButton = h("button", { class: "button", type: "button" }, icon("eye"), "Preview");

  const problems = (error) => {
    c.clearErrors();
    const rest = error instanceof ApiError ? c.showErrors(error.fieldErrors) : [];
    replace(general, error.fieldErrors?.length && !rest.length ? h("div", { class: "alert error", role: "alert" }, "Fix the fields marked below.") : errorAlert({ message: error.message, fieldErrors: rest }));
  };

  previewButton.addEventListener("click", async () => {
    previewButton.disabled = true;
    replace(preview, h("div", { class: "muted row" }, icon("clock"), "Listing the source and comparing with the destination…"));
    preview.hidden = false;
    try {
      const result = await post("rules/preview", ruleBody(c));
      c.clearErrors();
      replace(general);
      replace(preview, previewPanel(result));
      preview.scrollIntoView({ block: "nearest" });
    } catch (error) {
      preview.hidden = true;
      problems(error);
    } finally {
      previewButton.disabled = false;
    }
  });

  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const body = ruleBody(c);
        if (!body.name) {
          c.clearErrors();
          c.showErrors([{ field: "name", message: "Give the rule a name." }]);
          return;
        }
        save.disabled = true;
        try {
          // A new rule must not replace an existing one of the same name.
          const onlyNew = editing ? {} : { "If-None-Match": "*" };
          const saved = await put(rulePath(body.name), body, onlyNew);
          toast(`${saved.created ? "Created" : "Saved"} rule ${saved.name}${saved.parse_requested ? ": its DAG is being parsed" : ""}`);
          window.location.hash = `#/rules/${encodeURIComponent(saved.name)}`;
        } catch (error) {
          problems(error);
        } finally {
          save.disabled = false;
        }
      },
    },
    general,
    buildForm(c, values, endpoints, editing),
    h("div", { class: "form-buttons" }, save, previewButton, h("a", { class: "button ghost", href: "#/rules" }, "Cancel")),
  );
  const fileProblems =
    existing && !existing.valid
      ? h("div", { class: "alert error", role: "alert" }, h("div", {}, `${existing.file} is invalid:`, h("ul", {}, existing.problems.map((p) => h("li", {}, p)))))
      : null;
  replace(
    container,
    h(
      "div",
      { class: "toolbar" },
      h("a", { class: "button ghost icon-only", href: "#/rules", "aria-label": "Back to the rules" }, icon("back")),
      h("h2", {}, editing ? `Edit rule ${existing.name}` : "New replication rule"),
      editing ? h("span", { class: "muted small" }, existing.file) : null,
    ),
    fileProblems,
    h("div", { class: "form-layout" }, form, preview),
  );
}
