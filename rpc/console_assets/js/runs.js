// Runs: the log (get_action_log), newest first, filtered by action and status; each run's
// input, output, errors, attempts and times. A finished run may be replayed (replay_action_run:
// a new run, as its role, under today's metadata), a queued one cancelled (cancel_action_run);
// "Replay all failed" and "Cancel all queued" act on the runs of the action filtered by.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { useSettled } from "./actions_list.js";
import { Confirm, ErrorBanner, Json, Notice, Page, Pager, useLoad, when } from "./ui.js";

const LIMIT = 50;
const STATUSES = ["created", "processing", "completed", "error", "cancelled"];
const FINISHED = ["completed", "error", "cancelled"];
// How many runs one "Replay all failed" / "Cancel all queued" takes at most.
const REPLAY_AT_ONCE = 100;
const CANCEL_AT_ONCE = 1000;

const who = (by) => Object.entries(by).map(([k, v]) => `${k} ${v}`).join(", ");

// Replay and Cancel, for a run that allows them: a finished run replays, a queued async run cancels.
function RunButtons({ run, onReplay, onCancel }) {
  const stop = (act) => (e) => (e.stopPropagation(), act(run));
  return html`${FINISHED.includes(run.status) &&
    html`<button type="button" title="Run it again, as a new run" onClick=${stop(onReplay)}>Replay</button>`}
    ${run.status === "created" && run.mode === "async" &&
    html`<button type="button" class="danger" title="It will never be delivered" onClick=${stop(onCancel)}>Cancel</button>`}`;
}

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
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  const [asking, setAsking] = useState(null); // "replay" | "cancel": all of the filter's
  const filter = settledAction ? { action: settledAction } : {};
  const of = settledAction ? ` of ${settledAction}` : "";

  const act = async (type, args, said) => {
    setError(null);
    setNotice(null);
    try {
      setNotice(said(await query(type, args)));
      log.reload();
    } catch (exc) {
      setError(exc);
    } finally {
      setAsking(null);
    }
  };
  const replay = (r) => act("replay_action_run", { id: r.id }, (a) => ({ text: `Run ${r.id} replayed as ${a.id}: ${a.status}.` }));
  const cancel = (r) => act("cancel_action_run", { id: r.id }, () => ({ text: `Run ${r.id} cancelled: it will never be delivered.` }));
  const replayAll = () =>
    act("replay_action_runs", { ...filter, status: "error", limit: REPLAY_AT_ONCE }, (a) => ({
      text: `Replayed ${a.replayed.length} failed run${a.replayed.length === 1 ? "" : "s"}${of}${a.refused.length ? `; ${a.refused.length} refused` : ""}.`,
      refused: a.refused,
    }));
  const cancelAll = () =>
    act("cancel_action_runs", { ...filter, limit: CANCEL_AT_ONCE }, (a) => ({
      text: `Cancelled ${a.cancelled.length} queued run${a.cancelled.length === 1 ? "" : "s"}${of}.`,
    }));

  return html`<${Page} name="runs" title="Runs" ready=${!!log.data && !log.loading}
    tools=${html`<button type="button" onClick=${log.reload}>Refresh</button>
      <button type="button" onClick=${() => setAsking("replay")}>Replay all failed</button>
      <button type="button" class="danger" onClick=${() => setAsking("cancel")}>Cancel all queued</button>`}>
    <div class="filters">
      <input type="search" placeholder="Action" aria-label="Action" value=${action} onInput=${(e) => (setAction(e.target.value), setOffset(0))} />
      <select aria-label="Status" value=${status} onChange=${(e) => (setStatus(e.target.value), setOffset(0))}>
        <option value="">any status</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
    </div>
    <p class="muted">Every asynchronous run is logged; synchronous ones too when the server's <code>audit_sync_runs</code> is on.</p>
    <${ErrorBanner} error=${log.error || error} />
    ${notice &&
    html`<${Notice}><span data-notice>${notice.text}</span>
      ${notice.refused && notice.refused.length > 0 &&
      html`<ul class="refused">${notice.refused.map((r) => html`<li><code>${r.id}</code>: ${r.error} (${r.code})</li>`)}</ul>`}
    <//>`}
    ${log.data && runs.length > 0 &&
    html`<table class="list runs">
      <thead><tr><th>Started</th><th>Action</th><th>Mode</th><th>Role</th><th>Status</th><th>Attempts</th><th>Finished</th><th><span class="sr-only">Replay or cancel</span></th></tr></thead>
      <tbody>${runs.map(
        (r) => html`<tr key=${r.id} class="run ${open === r.id ? "open" : ""}" data-run=${r.id} onClick=${() => setOpen(open === r.id ? null : r.id)}>
            <td><button type="button" class="link" aria-expanded=${open === r.id ? "true" : "false"} title="Show this run's input and output"
              onClick=${(e) => (e.stopPropagation(), setOpen(open === r.id ? null : r.id))}>${when(r.created_at)}</button></td>
            <td><a href=${`#/actions/${encodeURIComponent(r.action)}`} onClick=${(e) => e.stopPropagation()}>${r.action}</a></td>
            <td>${r.mode}</td><td>${r.role}</td>
            <td><span class=${`status ${r.status}`}>${r.status}</span></td>
            <td>${r.attempts}</td><td>${when(r.updated_at)}</td>
            <td class="run-actions"><${RunButtons} run=${r} onReplay=${replay} onCancel=${cancel} /></td>
          </tr>
          ${open === r.id &&
          html`<tr class="details"><td colspan="8"><div class="run-details">
            <div><h3>Input</h3><${Json} value=${r.input} /></div>
            <div><h3>${r.status === "error" ? "Errors" : "Output"}</h3><${Json} value=${r.status === "error" ? r.errors : r.output} /></div>
            <div><h3>Run</h3><dl>
              <dt>id</dt><dd><code>${r.id}</code></dd><dt>created</dt><dd>${r.created_at}</dd>
              <dt>updated</dt><dd>${r.updated_at}</dd><dt>attempts</dt><dd>${r.attempts}</dd>
              ${r.errors && r.status !== "error" && html`<dt>last error</dt><dd><${Json} value=${r.errors} /></dd>`}
              ${r.replay_of && html`<dt>replay of</dt><dd><code>${r.replay_of}</code></dd><dt>replayed by</dt><dd>${who(r.replayed_by)}</dd>`}
              ${r.cancelled_by && html`<dt>cancelled by</dt><dd>${who(r.cancelled_by)}</dd>`}
            </dl>
            <div class="buttons"><${RunButtons} run=${r} onReplay=${replay} onCancel=${cancel} /></div></div>
          </div></td></tr>`}`,
      )}</tbody>
    </table>`}
    ${log.data &&
    html`${!runs.length && html`<p class="empty">No run matches.</p>`}
      <${Pager} offset=${offset} limit=${LIMIT} shown=${runs.length} onChange=${setOffset} />`}
    ${asking === "replay" &&
    html`<${Confirm} message=${`Replay the failed runs${of}? Up to ${REPLAY_AT_ONCE}, oldest first, each as a new run; runs replayed already are left out.`}
      confirmLabel="Replay them" onConfirm=${replayAll} onCancel=${() => setAsking(null)} />`}
    ${asking === "cancel" &&
    html`<${Confirm} message=${`Cancel the queued runs${of}? Up to ${CANCEL_AT_ONCE}; they will never be delivered (runs already started go on).`}
      confirmLabel="Cancel them" onConfirm=${cancelAll} onCancel=${() => setAsking(null)} />`}
  <//>`;
}
