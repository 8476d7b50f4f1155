// Public links: anyone with a link may run its action, with no credentials, as the public role:
// through the API, or by filling in its form at /public/action/<uuid>.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { Confirm, ErrorBanner, ErrorForm, Field, Notice, Page, useLoad } from "./ui.js";

function curl(uuid) {
  const body = JSON.stringify({ type: "run_public_action", args: { uuid, input: {} } });
  return `curl ${window.location.origin}/v1/query -H 'Content-Type: application/json' -d '${body}'`;
}

export function PublicLinks() {
  const [version, setVersion] = useState(0);
  const loaded = useLoad(() => query("export_metadata", { sections: ["public_links"] }), [version]);
  const [action, setAction] = useState("");
  const [dropping, setDropping] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const links = (loaded.data && loaded.data.public_links) || [];
  const create = async () => {
    setError(null);
    try {
      const answer = await query("create_action_public_link", { action });
      setNotice(`Link for ${action}: ${answer.uuid}`);
      setAction("");
      setVersion((v) => v + 1);
    } catch (exc) {
      setError(exc);
    }
  };
  const drop = async () => {
    try {
      await query("drop_action_public_link", { action: dropping.action });
      setNotice(`The link for ${dropping.action} no longer works`);
      setVersion((v) => v + 1);
    } catch (exc) {
      setError(exc);
    }
    setDropping(null);
  };
  return html`<${Page} name="links" title="Public links" ready=${!!loaded.data}>
    <${ErrorForm} error=${error} onSubmit=${create} class="inline">
      <${Field} label="Action" path="$.args" hint="Its link runs it as the public role, at the public rate limit">
        <input name="link_action" value=${action} onInput=${(e) => setAction(e.target.value)} />
      <//>
      <div class="buttons"><button type="submit" class="primary" disabled=${!action}>Create link</button></div>
    <//>
    <${ErrorBanner} error=${loaded.error} />
    ${notice && html`<${Notice}>${notice}</${Notice}>`}
    ${loaded.data &&
    html`<table class="list">
      <thead><tr><th>Action</th><th>Link</th><th>Run it</th><th><span class="sr-only">Drop</span></th></tr></thead>
      <tbody>${links.map(
        (l) => html`<tr key=${l.action}>
          <td><a href=${`#/actions/${encodeURIComponent(l.action)}`}>${l.action}</a></td>
          <td><code>${l.uuid}</code><br /><a href=${`/public/action/${l.uuid}`} target="_blank" rel="noopener">Its form</a></td>
          <td><code class="small">${curl(l.uuid)}</code></td>
          <td class="actions"><button type="button" class="danger" onClick=${() => setDropping(l)}>Drop</button></td>
        </tr>`,
      )}</tbody>
    </table>
    ${!links.length && html`<p class="empty">No public link yet.</p>`}`}
    ${dropping &&
    html`<${Confirm} message=${`Drop the public link of ${dropping.action}? It stops working at once.`} confirmLabel="Drop link"
      onConfirm=${drop} onCancel=${() => setDropping(null)} />`}
  <//>`;
}
