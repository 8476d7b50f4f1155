// Data sources (the databases sql and table actions use): list, add, edit, drop.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { Confirm, ErrorBanner, ErrorForm, Field, Notice, Page, useLoad } from "./ui.js";

function SourceForm({ initial, onSaved, onCancel }) {
  const editing = !!initial;
  const [name, setName] = useState(initial ? initial.name : "");
  const [fromEnv, setFromEnv] = useState(!!(initial && initial.url_from_env));
  const [url, setUrl] = useState(initial ? initial.url || initial.url_from_env : "");
  const [error, setError] = useState(null);
  const save = async () => {
    setError(null);
    try {
      const answer = await query(editing ? "update_source" : "add_source", { name, [fromEnv ? "url_from_env" : "url"]: url });
      onSaved(answer.resource_version);
    } catch (exc) {
      setError(exc);
    }
  };
  return html`<${ErrorForm} error=${error} onSubmit=${save} class="source-form">
    <h2>${editing ? `Edit ${initial.name}` : "Add a data source"}</h2>
    <div class="inline">
      <${Field} label="Name" path="$.args.name"><input name="source_name" value=${name} disabled=${editing} onInput=${(e) => setName(e.target.value)} /><//>
      <${Field} label="From">
        <select aria-label="URL from" value=${fromEnv ? "env" : "url"} onChange=${(e) => setFromEnv(e.target.value === "env")}>
          <option value="url">a URL</option><option value="env">an environment variable</option>
        </select>
      <//>
      <${Field} label=${fromEnv ? "Environment variable" : "Database URL"} path=${`$.args.${fromEnv ? "url_from_env" : "url"}`} className="grow"
        hint=${fromEnv ? "Read when the source is first used" : "sqlite:///shop.db, postgresql://user@host:5432/db"}>
        <input name="source_url" value=${url} onInput=${(e) => setUrl(e.target.value)} />
      <//>
    </div>
    <div class="buttons"><button type="button" onClick=${onCancel}>Cancel</button><button type="submit" class="primary">${editing ? "Save" : "Add source"}</button></div>
  <//>`;
}

export function Sources() {
  const [version, setVersion] = useState(0);
  const loaded = useLoad(() => query("export_metadata", { sections: ["data_sources"] }), [version]);
  const [editing, setEditing] = useState(null); // null, "new", or a source
  const [dropping, setDropping] = useState(null);
  const [cascade, setCascade] = useState(false);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const sources = (loaded.data && loaded.data.data_sources) || [];
  const done = (resourceVersion) => {
    setSaved(resourceVersion);
    setEditing(null);
    setDropping(null);
    setVersion((v) => v + 1);
  };
  const drop = async () => {
    setError(null);
    try {
      done((await query("drop_source", { name: dropping.name, cascade })).resource_version);
    } catch (exc) {
      setError(exc);
      setDropping(null);
    }
  };
  return html`<${Page} name="sources" title="Data sources" ready=${!!loaded.data}
    tools=${html`<button type="button" class="primary" onClick=${() => setEditing("new")}>Add source</button>`}>
    <${ErrorBanner} error=${loaded.error || error} />
    ${saved && html`<${Notice}>Saved: resource version ${saved}</${Notice}>`}
    ${editing && html`<${SourceForm} key=${editing === "new" ? "" : editing.name} initial=${editing === "new" ? null : editing} onSaved=${done} onCancel=${() => setEditing(null)} />`}
    ${loaded.data &&
    html`<table class="list">
      <thead><tr><th>Name</th><th>Database</th><th><span class="sr-only">Edit or drop</span></th></tr></thead>
      <tbody>${sources.map(
        (s) => html`<tr key=${s.name}>
          <td>${s.name}</td>
          <td>${s.url ? html`<code>${s.url}</code>` : html`from <code>$${s.url_from_env}</code>`}</td>
          <td class="actions"><button type="button" onClick=${() => setEditing(s)}>Edit</button>
            <button type="button" class="danger" onClick=${() => (setCascade(false), setDropping(s))}>Drop</button></td>
        </tr>`,
      )}</tbody>
    </table>
    ${!sources.length && html`<p class="empty">No data source yet. SQL and table actions run against one.</p>`}`}
    ${dropping &&
    html`<${Confirm} message=${`Drop the data source ${dropping.name}?`} confirmLabel="Drop source" onConfirm=${drop} onCancel=${() => setDropping(null)}>
      <label class="check"><input type="checkbox" checked=${cascade} onChange=${(e) => setCascade(e.target.checked)} /> Also drop the actions that use it</label>
    <//>`}
  <//>`;
}
