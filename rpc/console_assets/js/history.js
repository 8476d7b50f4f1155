// History: every version (operation, time, who), the diff between any two, rollback; and the
// inconsistent objects, with reload and drop.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { Diff } from "./diff.js";
import { Confirm, ErrorBanner, Json, Notice, Page, useLoad, when } from "./ui.js";

const LIMIT = 50;
const SHOWN = 100; // changes drawn at first: a replace_metadata may change 10,000 objects

function Changes({ diff }) {
  const [all, setAll] = useState(false);
  const entries = [
    ...diff.added.map((e) => ["added", e, undefined, e.definition]),
    ...diff.removed.map((e) => ["removed", e, e.definition, undefined]),
    ...diff.changed.map((e) => ["changed", e, e.from, e.to]),
  ];
  return html`<section class="diff-view" data-from=${diff.from_version} data-to=${diff.to_version}>
    <h2>From version ${diff.from_version} to ${diff.to_version}</h2>
    ${!entries.length && html`<p class="empty">No difference.</p>`}
    ${(all ? entries : entries.slice(0, SHOWN)).map(
      ([how, e, before, after]) => html`<details open class=${`change ${how}`}>
        <summary><span class=${`tag ${how}`}>${how}</span> ${e.type} <strong>${e.name}</strong></summary>
        <${Diff} before=${before} after=${after} />
      </details>`,
    )}
    ${!all && entries.length > SHOWN &&
    html`<button type="button" onClick=${() => setAll(true)}>Show all ${entries.length} changes</button>`}
  </section>`;
}

function Inconsistencies() {
  const [tick, setTick] = useState(0);
  const report = useLoad(() => query("get_inconsistent_metadata"), [tick]);
  const [dropping, setDropping] = useState(false);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const act = async (type, message) => {
    setError(null);
    try {
      await query(type);
      setNotice(message);
      setTick((t) => t + 1);
    } catch (exc) {
      setError(exc);
    }
  };
  const objects = report.data ? report.data.inconsistent_objects : [];
  return html`<section class="inconsistent">
    <h2>Inconsistent objects</h2>
    <div class="buttons">
      <button type="button" onClick=${() => act("reload_metadata", "Reloaded from the store")}>Reload metadata</button>
      <button type="button" class="danger" disabled=${!objects.length} onClick=${() => setDropping(true)}>Drop inconsistent objects</button>
    </div>
    <${ErrorBanner} error=${report.error || error} />
    ${notice && html`<${Notice}>${notice}</${Notice}>`}
    ${report.data && !objects.length && html`<p class="empty">The metadata is consistent.</p>`}
    ${objects.map(
      (o) => html`<details class="change removed"><summary><span class="tag">${o.type}</span> <strong>${o.name}</strong> ${o.reason}</summary>
        <${Json} value=${o.definition} /></details>`,
    )}
    ${dropping &&
    html`<${Confirm} message="Drop every inconsistent object? (An unreachable data source is kept: it may come back.)" confirmLabel="Drop them"
      onConfirm=${() => act("drop_inconsistent_metadata", "Dropped the inconsistent objects").then(() => setDropping(false))}
      onCancel=${() => setDropping(false)} />`}
  </section>`;
}

export function History() {
  const [before, setBefore] = useState(null);
  const [tick, setTick] = useState(0);
  const history = useLoad(() => query("get_metadata_history", before ? { limit: LIMIT, before } : { limit: LIMIT }), [before, tick]);
  const [from, setFrom] = useState(null);
  const [to, setTo] = useState(null);
  const [diff, setDiff] = useState(null);
  const [rollback, setRollback] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const versions = history.data ? history.data.versions : [];
  const newest = versions.length && !before ? versions[0].resource_version : null;

  const show = async () => {
    setError(null);
    try {
      setDiff(await query("diff_metadata", { from_version: Math.min(from, to), to_version: Math.max(from, to) }));
    } catch (exc) {
      setError(exc);
    }
  };
  const roll = async () => {
    setError(null);
    try {
      const answer = await query("rollback_metadata", { to_version: rollback });
      setNotice(`Rolled back to version ${rollback}: resource version ${answer.resource_version}`);
      setDiff(null);
      setBefore(null);
      setTick((t) => t + 1);
    } catch (exc) {
      setError(exc);
    }
    setRollback(null);
  };

  return html`<${Page} name="history" title="History" ready=${!!history.data && !history.loading}
    tools=${html`<button type="button" class="primary" disabled=${from == null || to == null || from === to} onClick=${show}>Show diff</button>`}>
    <${ErrorBanner} error=${history.error || error} />
    ${notice && html`<${Notice}>${notice}</${Notice}>`}
    <p class="muted">Pick two versions (from, to) to see what changed between them.</p>
    <table class="list history">
      <thead><tr><th>From</th><th>To</th><th>Version</th><th>Time</th><th>Operation</th><th>Who</th><th><span class="sr-only">Roll back</span></th></tr></thead>
      <tbody>${versions.map(
        (v) => html`<tr key=${v.resource_version} data-version=${v.resource_version}>
          <td><input type="radio" name="from" aria-label=${`from version ${v.resource_version}`} checked=${from === v.resource_version} onChange=${() => setFrom(v.resource_version)} /></td>
          <td><input type="radio" name="to" aria-label=${`to version ${v.resource_version}`} checked=${to === v.resource_version} onChange=${() => setTo(v.resource_version)} /></td>
          <td>${v.resource_version}${v.resource_version === newest ? html` <span class="tag">current</span>` : ""}</td>
          <td>${when(v.created_at)}</td><td>${v.operation}</td><td>${v.role || ""}</td>
          <td class="actions">${v.resource_version !== newest &&
          html`<button type="button" onClick=${() => setRollback(v.resource_version)}>Roll back to this</button>`}</td>
        </tr>`,
      )}</tbody>
    </table>
    <div class="pager">
      <button type="button" disabled=${!before} onClick=${() => setBefore(null)}>‹ Newest</button>
      <button type="button" disabled=${versions.length < LIMIT} onClick=${() => setBefore(versions[versions.length - 1].resource_version)}>Older ›</button>
    </div>
    ${diff && html`<${Changes} key=${`${diff.from_version}-${diff.to_version}`} diff=${diff} />`}
    <${Inconsistencies} />
    ${rollback != null &&
    html`<${Confirm} message=${`Roll back to version ${rollback}? A new version will hold exactly what version ${rollback} held.`}
      confirmLabel="Roll back" onConfirm=${roll} onCancel=${() => setRollback(null)} />`}
  <//>`;
}
