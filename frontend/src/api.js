// The JSON API as the pages call it: the session (user, roles, CSRF token) and requests that send
// the token on every change. A 401 sends the browser to the sign-in page.

let current = null;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401 && current) {
      location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
    throw new ApiError(response.status, body && (body.detail || body.title));
  }
  return body;
}

export async function session() {
  if (!current) current = await parse(await fetch("/api/session", { credentials: "same-origin" }));
  return current;
}

export function hasRole(...roles) {
  return Boolean(current) && roles.some((r) => current.roles.includes(r));
}

export async function get(path) {
  return parse(await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }));
}

export async function send(method, path, body) {
  const me = await session();
  const headers = { Accept: "application/json", "X-CSRF-Token": me.csrf_token || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.status === 204 ? null : parse(response);
}

export async function signIn(name, password) {
  const response = await fetch("/api/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ name, password }),
  });
  current = await parse(response);
  return current;
}

export async function signOut() {
  await send("DELETE", "/api/session");
  current = null;
}
