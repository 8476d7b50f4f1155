// Runs: the log (get_action_log), newest first, filtered by action and status; each run's
// input, output, errors, attempts and times.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { useSettled } from "./actions_list.js";
import { ErrorBanner, Json, Page, Pager, useLoad, when } from "./ui.js";

const LIMIT = 50;
const STATUSES = ["created", "processing", "completed", "error"];

function initialAction() {
  const [, search = ""] = window.location.hash.split("?");
  return new URLSearchParams(search).get("action") || "";
}

export function Runs() {
  const [action, setAction] = useState(initialAction);
  const [status, setStatus] = useState("");
  const [offset, setOffset] = useState(0);
  const [open, setOpen] = useState(null);
  const settledAction = useSettled(action.trim());
  const args = { limit: LIMIT, offset };
  if (settledAction) args.action = settledAction;
  if (status) args.status = status;
  const log = useLoad(() => query("get_action_log", args), [JSON.stringify(args)]);
  const runs = log.data ? log.data.runs : [];
  return html`<${Page} name="runs" title="Runs" ready=${!!log.data && !log.loading}
    tools=${html`<button type="button" onClick=${log.reload}>Refresh</button>`}>
    <div class="filters">
      <input type="search" placeholder="Action" aria-label="Action" value=${action} onInput=${(e) => (setAction(e.target.value), setOffset(0))} />
      <select aria-label="Status" value=${status} onChange=${(e) => (setStatus(e.target.value), setOffset(0))}>
        <option value="">any status</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
    </div>
    <p class="muted">Every asynchronous run is logged; synchronous ones too when the server's <code>audit_sync_runs</code> is on.</p>
    <${ErrorBanner} error=${log.error} />
    ${log.data && runs.length > 0 &&
    html`<table class="list runs">
      <thead><tr><th>Started</th><th>Action</th><th>Mode</th><th>Role</th><th>Status</th><th>Attempts</th><th>Finished</th></tr></thead>
      <tbody>${runs.map(
        (r) => html`<tr key=${r.id} class="run ${open === r.id ? "open" : ""}" data-run=${r.id} onClick=${() => setOpen(open === r.id ? null : r.id)}>
            <td><button type="button" class="link" aria-expanded=${open === r.id ? "true" : "false"} title="Show this run's input and output"
              onClick=${(e) => (e.stopPropagation(), setOpen(open === r.id ? null : r.id))}>${when(r.created_at)}</button></td>
            <td><a href=${`#/actions/${encodeURIComponent(r.action)}`} onClick=${(e) => e.stopPropagation()}>${r.action}</a></td>
            <td>${r.mode}</td><td>${r.role}</td>
            <td><span class=${`status ${r.status}`}>${r.status}</span></td>
            <td>${r.attempts}</td><td>${when(r.updated_at)}</td>
          </tr>
          ${open === r.id &&
          html`<tr class="details"><td colspan="7"><div class="run-details">
            <div><h3>Input</h3><${Json} value=${r.input} /></div>
            <div><h3>${r.status === "error" ? "Errors" : "Output"}</h3><${Json} value=${r.status === "error" ? r.errors : r.output} /></div>
            <div><h3>Run</h3><dl>
              <dt>id</dt><dd><code>${r.id}</code></dd><dt>created</dt><dd>${r.created_at}</dd>
              <dt>updated</dt><dd>${r.updated_at}</dd><dt>attempts</dt><dd>${r.attempts}</dd>
              ${r.errors && r.status !== "error" && html`<dt>last error</dt><dd><${Json} value=${r.errors} /></dd>`}
            </dl></div>
          </div></td></tr>`}`,
      )}</tbody>
    </table>`}
    ${log.data &&
    html`${!runs.length && html`<p class="empty">No run matches.</p>`}
      <${Pager} offset=${offset} limit=${LIMIT} shown=${runs.length} onChange=${setOffset} />`}
  <//>`;
}
