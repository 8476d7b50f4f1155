// Permissions: actions × roles; toggles are saved together as one bulk (one new version).
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { ActionFilters, NO_FILTERS, listActions, useSettled } from "./actions_list.js";
import { ErrorBanner, Notice, Page, Pager, useLoad } from "./ui.js";
import { useCheckedSave } from "./breaking.js";

const LIMIT = 25;
const key = (action, role) => `${action}\u0000${role}`;

export function Permissions() {
  const [filters, setFilters] = useState(NO_FILTERS);
  const search = useSettled(filters.search);
  const settled = { ...filters, search };
  const [version, setVersion] = useState(0);
  const roles = useLoad(() => query("list_roles"), [version]);
  const list = useLoad(() => listActions(settled, LIMIT), [JSON.stringify(settled), version]);
  const [added, setAdded] = useState([]);
  const [newRole, setNewRole] = useState("");
  const [pending, setPending] = useState(new Map()); // key -> {action, role, grant}
  const [error, setError] = useState(null);
  const [failed, setFailed] = useState(null);
  const [saved, setSaved] = useState(null);
  const [checkedSave, breakingDialog] = useCheckedSave();

  // Inherited roles get no column of their own: what they may run comes from their parents.
  const known = (roles.data ? roles.data.roles.filter((r) => !r.inherits).map((r) => r.name) : []).filter(
    (r) => !added.includes(r),
  );
  const columns = [...known, ...added];
  const holds = (action, role) => (action.permissions || []).some((p) => p.role === role);
  const checked = (action, role) => {
    const change = pending.get(key(action.name, role));
    return change ? change.grant : holds(action, role);
  };
  const toggle = (action, role) => {
    const next = new Map(pending);
    const k = key(action.name, role);
    if (next.has(k)) next.delete(k);
    else next.set(k, { action: action.name, role, grant: !holds(action, role) });
    setPending(next);
    setSaved(null);
  };
  const addRole = () => {
    const role = newRole.trim();
    if (role && !columns.includes(role)) setAdded([...added, role]);
    setNewRole("");
  };
  const save = async () => {
    const changes = [...pending.values()];
    const envelopes = changes.map((c) => ({
      type: c.grant ? "create_action_permission" : "drop_action_permission",
      args: { action: c.action, role: c.role },
    }));
    setError(null);
    setFailed(null);
    try {
      // Taking a permission away breaks that role's schema: shown and asked about first.
      const answers = await checkedSave("bulk", envelopes);
      if (!answers) return;
      setSaved({ count: changes.length, version: answers[0].resource_version });
      setPending(new Map());
      setAdded([]);
      setVersion((v) => v + 1);
    } catch (exc) {
      setError(exc);
      const at = /^\$\.args\[(\d+)\]/.exec(exc.path);
      if (at) setFailed(changes[Number(at[1])]);
    }
  };

  const data = list.data;
  return html`<${Page} name="permissions" title="Permissions" ready=${!!data && !!roles.data && !list.loading}
    tools=${html`<span class="muted">${pending.size} unsaved change${pending.size === 1 ? "" : "s"}</span>
      <button type="button" disabled=${!pending.size} onClick=${() => setPending(new Map())}>Discard</button>
      <button type="button" class="primary" disabled=${!pending.size} onClick=${save}>Save</button>`}>
    <${ActionFilters} filters=${filters} setFilters=${setFilters} roles=${roles.data && roles.data.roles} />
    <form class="inline add-role" onSubmit=${(e) => (e.preventDefault(), addRole())}>
      <input placeholder="Another role" aria-label="New role" value=${newRole} onInput=${(e) => setNewRole(e.target.value)} />
      <button type="submit">Add role column</button>
    </form>
    <${ErrorBanner} error=${list.error || roles.error || error} />
    ${saved && html`<${Notice}>Saved ${saved.count} change${saved.count === 1 ? "" : "s"}: resource version ${saved.version}</${Notice}>`}
    ${data &&
    html`<table class="matrix">
        <thead><tr><th>Action</th>${columns.map((r) => html`<th>${r}</th>`)}</tr></thead>
        <tbody>
          ${data.actions.map(
            (a) => html`<tr key=${a.name}>
              <th><a href=${`#/actions/${encodeURIComponent(a.name)}`}>${a.name}</a></th>
              ${columns.map((r) => {
                const changed = pending.has(key(a.name, r));
                const bad = failed && failed.action === a.name && failed.role === r;
                return html`<td class=${`${changed ? "changed" : ""} ${bad ? "has-error" : ""}`}>
                  <input type="checkbox" aria-label=${`${r} may run ${a.name}`} checked=${checked(a, r)}
                    onChange=${() => toggle(a, r)} />
                </td>`;
              })}
            </tr>`,
          )}
        </tbody>
      </table>
      ${columns.length === 0 && html`<p class="empty">No role holds a permission yet: add a role column.</p>`}
      <${Pager} offset=${filters.offset} limit=${LIMIT} total=${data.total} shown=${data.actions.length}
        onChange=${(offset) => setFilters({ ...filters, offset })} />`}
    ${breakingDialog}
  <//>`;
}
