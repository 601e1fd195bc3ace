// The page's client of regrep's JSON API (/regrep/api), with the browser's Airflow session.
//
// Changes carry the header X-Regrep-Request: the API refuses a change made with the session
// cookie without it (a page of another site cannot add it), see regrep.ui.api_access.

const BASE = new URL("../api/", window.location.href);

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && typeof body === "object" ? body.detail : body;
    const text = typeof detail === "string" ? detail : detail?.message ?? JSON.stringify(detail);
    super(text || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }

  /** The per-field problems of a refused rule: [{field, message}]. */
  get fieldErrors() {
    return Array.isArray(this.body?.errors) ? this.body.errors : [];
  }
}

export async function call(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-Regrep-Request"] = "1";
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(new URL(path, BASE), init);
  const type = response.headers.get("content-type") ?? "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const put = (path, body, headers) => call("PUT", path, body, headers);
export const del = (path) => call("DELETE", path);

/** ``/regrep/api/rules/<name>...`` with the name escaped. */
export const rulePath = (name, rest = "") => `rules/${encodeURIComponent(name)}${rest}`;
