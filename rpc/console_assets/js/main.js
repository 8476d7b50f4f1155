// The console's shell: sign-in, the navigation, and the page the location's hash names.
import { query, saveCredentials, savedCredentials, signedInWith } from "./api.js";
import { html, render, useEffect, useState } from "./lib.js";
import { SignIn } from "./signin.js";
import { ActionsList } from "./actions_list.js";
import { ActionPage, NewAction } from "./action_page.js";
import { Permissions } from "./permissions.js";
import { CustomTypes } from "./custom_types.js";
import { Sources } from "./sources.js";
import { PublicLinks } from "./links.js";
import { Runs } from "./runs.js";
import { History } from "./history.js";
import { GraphiQLPage } from "./graphiql_page.js";
import { ErrorBanner } from "./ui.js";

const NAV = [
  ["actions", "Actions"],
  ["permissions", "Permissions"],
  ["types", "Custom types"],
  ["sources", "Data sources"],
  ["links", "Public links"],
  ["runs", "Runs"],
  ["history", "History"],
  ["graphiql", "GraphiQL"],
];

function route(hash) {
  const [path] = hash.replace(/^#\/?/, "").split("?");
  return path.split("/").filter(Boolean).map(decodeURIComponent);
}

function useHash() {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const changed = () => setHash(window.location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function Content({ parts }) {
  const [section = "actions", name, tab] = parts;
  switch (section) {
    case "actions":
      return name ? html`<${ActionPage} key=${name} name=${name} tab=${tab || "definition"} />` : html`<${ActionsList} />`;
    case "create-action":
      return html`<${NewAction} />`;
    case "permissions":
      return html`<${Permissions} />`;
    case "types":
      return html`<${CustomTypes} />`;
    case "sources":
      return html`<${Sources} />`;
    case "links":
      return html`<${PublicLinks} />`;
    case "runs":
      return html`<${Runs} />`;
    case "history":
      return html`<${History} />`;
    case "graphiql":
      return html`<${GraphiQLPage} key=${window.location.hash} />`;
    default:
      return html`<main data-page="missing" data-ready="true"><h1>No such page</h1><a href="#/actions">Actions</a></main>`;
  }
}

// The navigation: a sidebar; on a narrow screen (a phone) a bar whose Menu button opens it.
function Shell({ open, onSignOut }) {
  const hash = useHash();
  const parts = route(hash);
  const method = signedInWith();
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [hash]);
  const section = parts[0] || "actions";
  return html`<div class="shell">
    <nav class="sidebar" aria-label="Console">
      <div class="bar">
        <a class="brand" href="#/actions">Switchboard</a>
        <button type="button" class="menu" aria-expanded=${menu ? "true" : "false"} aria-controls="console-links"
          onClick=${() => setMenu(!menu)}>Menu</button>
      </div>
      <div id="console-links" class=${`links ${menu ? "open" : ""}`}>
        ${NAV.map(
          ([id, label]) =>
            html`<a href="#/${id}" class=${section === id ? "current" : ""} aria-current=${section === id ? "page" : undefined}
              data-nav=${id}>${label}</a>`,
        )}
        <div class="who">
          ${open
            ? html`<span title="The server has no admin secret: anyone who reaches it is admin">No admin secret set</span>`
            : html`<span>Signed in with ${method ? method.noun : "credentials"}</span>
                <button type="button" class="link" onClick=${onSignOut}>Sign out</button>`}
        </div>
      </div>
    </nav>
    <${Content} parts=${parts} />
  </div>`;
}

// Whether `credentials` (or none) may use the console: an admin-only read tells.
async function probe(credentials) {
  const { status, body } = await query("list_roles", {}, { credentials, raw: true });
  if (status === 200) return { ok: true };
  return { ok: false, status, body };
}

// Whether the server asks for credentials at all, answered without a refusal (a first 401
// would show as an error in the browser's console on every fresh tab). null: not known.
async function asksForCredentials() {
  try {
    const response = await fetch("/console/session", { headers: { accept: "application/json" } });
    return response.ok ? (await response.json()).credentials === "required" : null;
  } catch {
    return null;
  }
}

function App() {
  const [state, setState] = useState({ phase: "checking" });
  const check = async () => {
    const saved = savedCredentials();
    try {
      if (!saved && (await asksForCredentials())) return setState({ phase: "signin" });
      const found = await probe(saved);
      if (found.ok) return setState({ phase: "in", open: saved === null });
      if (saved) saveCredentials(null);
      if (found.status === 401 || found.body.code === "access-denied") return setState({ phase: "signin" });
      setState({ phase: "failed", error: found.body });
    } catch (error) {
      setState({ phase: "failed", error });
    }
  };
  useEffect(() => {
    check();
  }, []);
  if (state.phase === "checking") return html`<p class="loading">Connecting…</p>`;
  if (state.phase === "failed")
    return html`<main class="narrow" data-page="unavailable" data-ready="true">
      <h1>Switchboard</h1>
      <${ErrorBanner} error=${{ message: state.error.error || state.error.message, code: state.error.code, status: state.error.status }} />
      <button type="button" onClick=${check}>Try again</button>
    </main>`;
  if (state.phase === "signin")
    return html`<${SignIn} probe=${probe} onSignedIn=${(credentials) => {
      saveCredentials(credentials);
      setState({ phase: "in", open: false });
    }} />`;
  return html`<${Shell}
    open=${state.open}
    onSignOut=${() => {
      saveCredentials(null);
      setState({ phase: "signin" });
    }}
  />`;
}

render(html`<${App} />`, document.getElementById("app"));
