// One action: its definition (form, raw view, SDL), running it, its runs; or a new one.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { ActionForm, NEW_ACTION } from "./action_form.js";
import { RunForm } from "./run_form.js";
import { BreakingList } from "./breaking.js";
import { Confirm, ErrorBanner, Page, go, useLoad } from "./ui.js";

// Type names for the form's suggestions, and the data sources, without any action.
export async function typesAndSources() {
  const doc = await query("export_metadata", { sections: ["custom_types", "data_sources"] });
  const t = doc.custom_types || {};
  const names = (section) => (t[section] || []).map((x) => x.name);
  return {
    types: {
      input: [...names("input_objects"), ...names("scalars"), ...names("enums")],
      output: [...names("objects"), ...names("scalars"), ...names("enums")],
    },
    sources: (doc.data_sources || []).map((s) => s.name),
  };
}

export function NewAction() {
  const context = useLoad(typesAndSources, []);
  return html`<${Page} name="new-action" title="New action" ready=${!!context.data}>
    <${ErrorBanner} error=${context.error} />
    ${context.data &&
    html`<${ActionForm} initial=${NEW_ACTION} editing=${false} ...${context.data}
      onSaved=${(name) => go(`#/actions/${encodeURIComponent(name)}`)} />`}
  <//>`;
}

function Signature({ name, version }) {
  const signature = useLoad(() => query("get_action_signature", { name }), [name, version]);
  if (signature.error) return html`<${ErrorBanner} error=${signature.error} />`;
  if (!signature.data) return null;
  return html`<section class="sdl">
    <h2>GraphQL signature</h2>
    <pre class="code" data-sdl>${signature.data.sdl || "(no output type: not a GraphQL field)"}</pre>
  </section>`;
}

export function ActionPage({ name, tab }) {
  const [version, setVersion] = useState(0);
  const loaded = useLoad(async () => {
    const [found, context] = await Promise.all([query("list_actions", { names: [name] }), typesAndSources()]);
    return { action: found.actions[0], ...context };
  }, [name, version]);
  const [dropping, setDropping] = useState(false);
  const [clearData, setClearData] = useState(true);
  const [error, setError] = useState(null);
  const data = loaded.data;
  const base = `#/actions/${encodeURIComponent(name)}`;

  // The drop is previewed first (a dry run): the dialog names the clients it would break, and
  // the drop applies to exactly the version that was previewed.
  const askDrop = async () => {
    setError(null);
    try {
      setDropping(await query("drop_action", { name }, { dry_run: true }));
    } catch (exc) {
      setError(exc);
    }
  };
  const drop = async () => {
    try {
      await query("drop_action", { name, clear_data: clearData }, { resource_version: dropping.resource_version });
      go("#/actions");
    } catch (exc) {
      setError(exc);
      setDropping(false);
    }
  };

  const tabs = html`<nav class="tabs" aria-label=${`Action ${name}`}>
    <a href=${base} class=${tab === "definition" ? "current" : ""} aria-current=${tab === "definition" ? "page" : undefined}>Definition</a>
    <a href=${`${base}/run`} class=${tab === "run" ? "current" : ""} aria-current=${tab === "run" ? "page" : undefined}>Run</a>
    <a href=${`#/runs?action=${encodeURIComponent(name)}`}>Runs</a>
    <a href=${`#/graphiql?action=${encodeURIComponent(name)}`}>Try in GraphiQL</a>
  </nav>`;
  return html`<${Page} name=${`action-${tab}`} title=${name} ready=${!!data}
    tools=${html`<button type="button" class="danger" onClick=${askDrop}>Drop</button>`}>
    ${tabs}
    <${ErrorBanner} error=${loaded.error || error} />
    ${data && !data.action && html`<p class="empty">There is no action named ${name}.</p>`}
    ${data && data.action && tab === "definition" &&
    html`<div class="split">
      <${ActionForm} initial=${data.action} editing=${true} types=${data.types} sources=${data.sources}
        onSaved=${() => setVersion((v) => v + 1)} />
      <div>
        <${Signature} name=${name} version=${version} />
        <section><h2>Permissions</h2>
          <p>${(data.action.permissions || []).map((p) => html`<span class="tag role">${p.role}</span> `)}
          ${!(data.action.permissions || []).length && html`<span class="muted">Only admin may run it.</span>`}</p>
          <a href="#/permissions">Edit permissions</a>
        </section>
      </div>
    </div>`}
    ${data && data.action && tab === "run" && html`<${RunForm} action=${data.action} />`}
    ${dropping &&
    html`<${Confirm} message=${`Drop the action ${name}, its permissions and its public link?`} confirmLabel="Drop action"
      onConfirm=${drop} onCancel=${() => setDropping(false)}>
      ${dropping.graphql.breaking.length > 0 &&
      html`<p class="warning">It breaks the GraphQL schema of clients built against it:</p>
        <${BreakingList} breaking=${dropping.graphql.breaking} />`}
      <label class="check"><input type="checkbox" checked=${clearData} onChange=${(e) => setClearData(e.target.checked)} /> Also delete its runs</label>
    <//>`}
  <//>`;
}
