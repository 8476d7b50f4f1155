// The console is a client of /v1/query like any script: every call below is one POST of an
// envelope {type, args}, with the credentials the person signed in with.

// How a person may sign in: each method is a header carrying what they typed. Adding one (an
// API key, say) is one more entry here.
export const SIGN_IN_METHODS = [
  { id: "admin_secret", label: "Admin secret", noun: "admin secret", header: "x-hasura-admin-secret" },
  { id: "api_key", label: "API key", noun: "API key", header: "x-api-key" },
];

const STORAGE_KEY = "switchboard.credentials";

// Kept for this browser tab's session only (sessionStorage), never in localStorage or a cookie.
export function savedCredentials() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    return saved && SIGN_IN_METHODS.some((m) => m.id === saved.method) ? saved : null;
  } catch {
    return null;
  }
}

export function saveCredentials(credentials) {
  if (credentials) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
  else sessionStorage.removeItem(STORAGE_KEY);
  current = credentials;
}

let current = savedCredentials();

export function signedInWith() {
  return current && SIGN_IN_METHODS.find((m) => m.id === current.method);
}

// A refusal as the server sent it: {path, error, code} and the HTTP status.
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.path = (body && body.path) || "$";
    this.code = (body && body.code) || "unexpected";
  }
}

// The headers of a call with the signed-in credentials, as `role` (none: as admin).
export function credentialHeaders(role) {
  return headersFor(current, role);
}

function headersFor(credentials, role) {
  const headers = { "content-type": "application/json" };
  const method = credentials && SIGN_IN_METHODS.find((m) => m.id === credentials.method);
  if (method) headers[method.header] = credentials.value;
  if (role) headers["x-hasura-role"] = role;
  return headers;
}

// One envelope: resolves to the answer, rejects with an ApiError carrying the server's path.
// Options: role (run as that role), version (the envelope's), resource_version, dry_run (a
// change previewed, not saved), credentials (to try ones not yet saved), raw (resolve to
// {status, body} even on refusal).
export async function query(type, args = {}, options = {}) {
  const envelope = { type, args };
  if (options.version) envelope.version = options.version;
  if (options.resource_version != null) envelope.resource_version = options.resource_version;
  if (options.dry_run) envelope.dry_run = true;
  let response;
  try {
    response = await fetch("/v1/query", {
      method: "POST",
      headers: headersFor("credentials" in options ? options.credentials : current, options.role),
      body: JSON.stringify(envelope),
    });
  } catch (exc) {
    throw new ApiError(0, { path: "$", error: `the server cannot be reached (${exc.message})`, code: "unreachable" });
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = { path: "$", error: `not a JSON answer (HTTP ${response.status})`, code: "unexpected" };
  }
  if (options.raw) return { status: response.status, body };
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}
