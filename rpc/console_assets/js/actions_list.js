// Actions: a page at a time, searched and filtered by the server (list_actions).
import { query } from "./api.js";
import { html, useEffect, useState } from "./lib.js";
import { ErrorBanner, Page, Pager, useLoad } from "./ui.js";

const LIMIT = 50;

// The value after `delay` ms without change (a search runs once typing pauses).
export function useSettled(value, delay = 250) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

export function handlerKind(definition) {
  return definition.sql ? "sql" : definition.table ? "table" : "webhook";
}

// Where an action's handler is: its webhook's URL, its SQL's source, its table.
function handlerWhere(definition) {
  if (definition.sql) return `sql on ${definition.sql.source}`;
  if (definition.table) return `${definition.table.operation} ${definition.table.table} on ${definition.table.source}`;
  return definition.handler;
}

// The filters of list_actions, shared with the permissions matrix.
export function ActionFilters({ filters, setFilters, roles }) {
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value, offset: 0 });
  return html`<div class="filters">
    <input type="search" placeholder="Search names and comments" aria-label="Search" value=${filters.search}
      onInput=${set("search")} />
    <select aria-label="Kind" value=${filters.kind} onChange=${set("kind")}>
      <option value="">any kind</option><option value="synchronous">synchronous</option>
      <option value="asynchronous">asynchronous</option>
    </select>
    <select aria-label="Handler kind" value=${filters.handler_kind} onChange=${set("handler_kind")}>
      <option value="">any handler</option><option value="webhook">webhook</option>
      <option value="sql">sql</option><option value="table">table</option>
    </select>
    <select aria-label="Role" value=${filters.role} onChange=${set("role")}>
      <option value="">any role</option>
      ${(roles || []).map((r) => html`<option value=${r.name}>${r.name} (${r.actions})</option>`)}
    </select>
  </div>`;
}

export const NO_FILTERS = { search: "", kind: "", handler_kind: "", role: "", offset: 0 };

// list_actions with the filters that are set.
export function listActions(filters, limit) {
  const args = { limit, offset: filters.offset };
  for (const key of ["search", "kind", "handler_kind", "role"]) if (filters[key]) args[key] = filters[key];
  return query("list_actions", args);
}

// An empty server: what to do first, in the console or from a terminal.
function FirstSteps() {
  return html`<section class="first-steps" aria-labelledby="first-steps">
    <h2 id="first-steps">No action yet: first steps</h2>
    <ol>
      <li><a href="#/types">Create a custom type</a> for what an action takes or answers (an input object, an object), or use the built-in scalars (String, Int…).</li>
      <li><a href="#/create-action">Create an action</a>: its arguments, its output type, and its handler (a webhook URL, SQL on a data source, or a table row).</li>
      <li>Give roles a <a href="#/permissions">permission</a> to run it, and run it from its page.</li>
    </ol>
    <p>Or from a terminal, as a Hasura project: <code>switchboard init my-app</code> lays out a project with an example
      action and its webhook, and <code>switchboard metadata apply my-app</code> applies it to this server.</p>
  </section>`;
}

export function ActionsList() {
  const [filters, setFilters] = useState(NO_FILTERS);
  const search = useSettled(filters.search);
  const settled = { ...filters, search };
  const roles = useLoad(() => query("list_roles"), []);
  const list = useLoad(() => listActions(settled, LIMIT), [JSON.stringify(settled)]);
  const data = list.data;
  return html`<${Page} name="actions" title="Actions" ready=${!!data && !list.loading}
    tools=${html`<a class="button primary" href="#/create-action">New action</a>`}>
    <${ActionFilters} filters=${filters} setFilters=${setFilters} roles=${roles.data && roles.data.roles} />
    <${ErrorBanner} error=${list.error} />
    ${data &&
    html`${data.actions.length > 0 && html`<table class="list">
        <thead><tr><th>Name</th><th>Type</th><th>Kind</th><th>Handler</th><th>Roles</th><th>Comment</th></tr></thead>
        <tbody>
          ${data.actions.map(
            (a) => html`<tr key=${a.name}>
              <td><a href=${`#/actions/${encodeURIComponent(a.name)}`}>${a.name}</a></td>
              <td>${a.definition.type}</td>
              <td>${a.definition.kind || "synchronous"}</td>
              <td><span class="tag">${handlerKind(a.definition)}</span> <span class="muted">${handlerWhere(a.definition)}</span></td>
              <td>${(a.permissions || []).map((p) => html`<span class="tag role">${p.role}</span> `)}</td>
              <td class="muted">${a.comment || ""}</td>
            </tr>`,
          )}
        </tbody>
      </table>`}
      ${data.total === 0 &&
      (JSON.stringify(settled) === JSON.stringify(NO_FILTERS) ? html`<${FirstSteps} />` : html`<p class="empty">No action matches.</p>`)}
      <${Pager} offset=${filters.offset} limit=${LIMIT} total=${data.total} shown=${data.actions.length}
        onChange=${(offset) => setFilters({ ...filters, offset })} />`}
  <//>`;
}
