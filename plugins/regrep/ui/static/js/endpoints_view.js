// Endpoints: Harbor's registries page. They are Airflow connections of regrep's types,
// created and edited in Airflow's Connections page; here each can be tested.

import { get, post } from "./api.js";
import { h, icon, replace } from "./dom.js";
import { airflowLink, badge, failure } from "./widgets.js";

export async function renderEndpoints(container) {
  let listing;
  try {
    listing = await get("endpoints");
  } catch (error) {
    replace(container, failure(error));
    return;
  }
  const rows = listing.endpoints.map((endpoint) => {
    const result = h("div", { class: "result", "aria-live": "polite" });
    const test = h(
      "button",
      {
        class: "button small",
        type: "button",
        disabled: !listing.test_enabled,
        title: listing.test_enabled ? `Test ${endpoint.conn_id}` : "Connection tests are disabled in Airflow ([core] test_connection)",
        onclick: async () => {
          test.disabled = true;
          replace(result, h("span", { class: "muted" }, "Testing…"));
          try {
            const answer = await post(`endpoints/${encodeURIComponent(endpoint.conn_id)}/test`);
            replace(result, h("div", { class: "row" }, badge(answer.ok ? "ok" : "error", answer.ok ? "OK" : "Failed"), h("span", { class: "cell-sub" }, answer.message)));
          } catch (error) {
            replace(result, h("div", { class: "row" }, badge("error", "Failed"), h("span", { class: "cell-sub" }, error.message)));
          } finally {
            test.disabled = false;
          }
        },
      },
      icon("plug", 14),
      "Test",
    );
    return h(
      "tr",
      { dataset: { endpoint: endpoint.conn_id } },
      h("td", { class: "cell-title" }, endpoint.conn_id),
      h("td", {}, endpoint.type),
      h("td", {}, endpoint.url),
      h("td", {}, endpoint.description),
      h("td", { class: "muted" }, endpoint.defined_in === "environment" ? "environment variable" : "Airflow connection"),
      h("td", {}, h("div", { class: "row" }, test, result)),
    );
  });
  replace(
    container,
    h(
      "div",
      { class: "toolbar" },
      h("h2", {}, `${rows.length} ${rows.length === 1 ? "Endpoint" : "Endpoints"}`),
      h("span", { class: "spacer" }),
      airflowLink("connections", h("span", { class: "button" }, icon("plus"), "Add in Connections")),
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "aria-label": "Endpoints" },
        h("thead", {}, h("tr", {}, ["Name", "Type", "URL", "Description", "Defined as", "Test"].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          rows.length
            ? rows
            : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No endpoints yet: add a connection of a regrep type in Admin › Connections.")),
        ),
      ),
    ),
    h(
      "p",
      { class: "muted small" },
      "Endpoints are Airflow connections of regrep's types; credentials stay in Airflow and are never shown here.",
    ),
  );
}
