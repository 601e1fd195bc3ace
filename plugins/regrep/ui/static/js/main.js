// The Replication page: Harbor's replication screens inside Airflow's UI.
//
// One page, routed by the URL's fragment (Airflow mirrors it into its own address bar, so
// every screen can be linked to):
//   #/rules                        the rules, with their last execution and actions
//   #/rules/new, #/rules/NAME/edit  the rule form, with its preview
//   #/rules/NAME                   the rule's executions
//   #/rules/NAME/runs/RUN_ID       one execution's resources
//   #/endpoints                    the endpoints (regrep's connections), with Test

import { h, replace } from "./dom.js";
import { renderEndpoints } from "./endpoints_view.js";
import { renderExecution, renderExecutions } from "./executions_view.js";
import { renderRuleForm } from "./rule_form.js";
import { renderRules } from "./rules_view.js";
import { followAirflow } from "./theme.js";
import { failure, mirrorAddress } from "./widgets.js";

const ROUTES = [
  [/^#\/rules\/new$/, (m) => ["rules", (el) => renderRuleForm(el, null)]],
  [/^#\/rules\/([^/]+)\/edit$/, (m) => ["rules", (el) => renderRuleForm(el, m[1])]],
  [/^#\/rules\/([^/]+)\/runs\/(.+)$/, (m) => ["rules", (el) => renderExecution(el, m[1], m[2])]],
  [/^#\/rules\/([^/]+)$/, (m) => ["rules", (el) => renderExecutions(el, m[1])]],
  [/^#\/endpoints$/, () => ["endpoints", renderEndpoints]],
  [/^.*$/, () => ["rules", renderRules]],
];

let cleanup = null;

function tabs(current) {
  const tab = (id, label) =>
    h("a", { href: `#/${id}`, "aria-current": current === id ? "page" : null }, label);
  return h("nav", { class: "tabs", "aria-label": "Replication" }, tab("rules", "Rules"), tab("endpoints", "Endpoints"));
}

async function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const hash = decodeURIComponent(window.location.hash || "#/rules");
  const [pattern, build] = ROUTES.find(([p]) => p.test(hash));
  const [tab, render] = build(hash.match(pattern));
  mirrorAddress();
  const content = h("section", { class: "view" });
  replace(document.getElementById("app"), tabs(tab), content);
  try {
    cleanup = (await render(content)) ?? null;
  } catch (error) {
    replace(content, failure(error));
  }
}

followAirflow();
window.addEventListener("hashchange", route);
route();
