// Create or edit an action: a form, or its raw JSON/YAML; refusals shown at their field.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { RawText, ViewSwitch, switchView } from "./raw.js";
import { ErrorForm, Field, Fieldset, Notice } from "./ui.js";
import { handlerKind } from "./actions_list.js";
import { useCheckedSave } from "./breaking.js";

const D = "$.args.definition";
export const BUILTIN_SCALARS = ["Int", "Float", "String", "Boolean", "ID"];

export const NEW_ACTION = {
  name: "",
  definition: { handler: "", output_type: "", arguments: [], type: "mutation", kind: "synchronous" },
};

const RUNNERS = {
  webhook: () => ({ handler: "" }),
  sql: (sources) => ({ sql: { source: sources[0] || "", statement: "" } }),
  table: (sources) => ({ table: { source: sources[0] || "", table: "", operation: "insert" } }),
};
const WEBHOOK_ONLY = ["handler", "headers", "forward_client_headers", "request_transform", "response_transform"];

// What create_action/update_action get: the form's value less its empty optional parts.
export function actionArgs(value) {
  const definition = { ...value.definition };
  for (const key of ["headers", "arguments"]) if (definition[key] && !definition[key].length) delete definition[key];
  if (definition.output_type === "") delete definition.output_type;
  if (definition.type === "query") delete definition.kind;
  if (definition.arguments)
    definition.arguments = definition.arguments.map((a) => (a.description ? a : { name: a.name, type: a.type }));
  const args = { name: value.name, definition };
  if (value.comment) args.comment = value.comment;
  return args;
}

function Rows({ label, path, rows, blank, onChange, children }) {
  const set = (i, row) => onChange(rows.map((r, j) => (j === i ? row : r)));
  return html`<${Fieldset} className="rows" legend=${label} path=${path}>
    ${rows.map(
      (row, i) => html`<${Field} className="row" path=${`${path}[${i}]`}>
        ${children(row, (r) => set(i, r), `${path}[${i}]`)}
        <button type="button" class="link danger" aria-label=${`Remove ${label.toLowerCase()} ${i + 1}`}
          onClick=${() => onChange(rows.filter((_, j) => j !== i))}>Remove</button>
      <//>`,
    )}
    <button type="button" onClick=${() => onChange([...rows, { ...blank }])}>Add ${label.toLowerCase().replace(/s$/, "")}</button>
  <//>`;
}

function Runner({ d, set, sources }) {
  const kind = handlerKind(d);
  const choose = (next) => {
    const kept = Object.fromEntries(Object.entries(d).filter(([k]) => !WEBHOOK_ONLY.includes(k) && k !== "sql" && k !== "table"));
    set({ ...kept, ...RUNNERS[next](sources) });
  };
  const sub = (key, field) => (e) => set({ ...d, [key]: { ...d[key], [field]: e.target.value } });
  const sourceSelect = (key) => html`<${Field} label="Data source" path=${`${D}.${key}.source`}>
    <select name="source" value=${d[key].source} onChange=${sub(key, "source")}>
      ${!sources.includes(d[key].source) && html`<option value=${d[key].source}>${d[key].source || "(none)"}</option>`}
      ${sources.map((s) => html`<option value=${s}>${s}</option>`)}
    </select>
  <//>`;
  return html`<${Fieldset} legend="Handler" path=${D}>
    <div class="choices" role="radiogroup" aria-label="Handler kind">
      ${Object.keys(RUNNERS).map(
        (k) => html`<label><input type="radio" name="handler_kind" value=${k} checked=${kind === k} onChange=${() => choose(k)} /> ${k}</label>`,
      )}
    </div>
    ${kind === "webhook" &&
    html`<${Field} label="Handler URL" path=${`${D}.handler`} hint="{{ENV_VAR}} is resolved when the action runs">
        <input name="handler" value=${d.handler} onInput=${(e) => set({ ...d, handler: e.target.value })} />
      <//>
      <${Rows} label="Headers" path=${`${D}.headers`} rows=${d.headers || []} blank=${{ name: "", value: "" }}
        onChange=${(headers) => set({ ...d, headers })}>
        ${(h, setH, p) => html`<${Field} path=${`${p}.name`}><input placeholder="Name" aria-label="Header name" value=${h.name} onInput=${(e) => setH({ ...h, name: e.target.value })} /><//>
          <select aria-label="Header source" value=${"value_from_env" in h ? "env" : "value"}
            onChange=${(e) => setH(e.target.value === "env" ? { name: h.name, value_from_env: h.value || "" } : { name: h.name, value: h.value_from_env || "" })}>
            <option value="value">value</option><option value="env">from env</option>
          </select>
          <${Field} path=${`${p}.${"value_from_env" in h ? "value_from_env" : "value"}`}>
            <input aria-label="Header value" value=${"value_from_env" in h ? h.value_from_env : h.value}
              onInput=${(e) => setH({ name: h.name, ["value_from_env" in h ? "value_from_env" : "value"]: e.target.value })} />
          <//>`}
      <//>
      <${Field} path=${`${D}.forward_client_headers`}>
        <label class="check"><input type="checkbox" checked=${!!d.forward_client_headers}
          onChange=${(e) => set({ ...d, forward_client_headers: e.target.checked })} /> Forward client headers</label>
      <//>`}
    ${kind === "sql" &&
    html`${sourceSelect("sql")}
      <${Field} label="Statement" path=${`${D}.sql.statement`} hint="{{name}} binds an argument; [[ … ]] is dropped when a tag inside is missing">
        <textarea class="code" rows="4" name="statement" value=${d.sql.statement ?? (d.sql.statements || []).join(";\n")}
          onInput=${(e) => set({ ...d, sql: { source: d.sql.source, statement: e.target.value } })}></textarea>
      <//>`}
    ${kind === "table" &&
    html`${sourceSelect("table")}
      <div class="inline">
        <${Field} label="Table" path=${`${D}.table.table`}><input name="table" value=${d.table.table} onInput=${sub("table", "table")} /><//>
        <${Field} label="Schema" path=${`${D}.table.schema`}><input name="schema" placeholder="default" value=${d.table.schema || ""} onInput=${sub("table", "schema")} /><//>
        <${Field} label="Operation" path=${`${D}.table.operation`}>
          <select name="operation" value=${d.table.operation} onChange=${sub("table", "operation")}>
            ${["insert", "update", "delete"].map((o) => html`<option>${o}</option>`)}
          </select>
        <//>
      </div>`}
  <//>`;
}

function FormView({ value, setValue, editing, types, sources }) {
  const d = value.definition;
  const set = (definition) => setValue({ ...value, definition });
  const inputTypes = [...BUILTIN_SCALARS, ...types.input];
  const outputTypes = [...BUILTIN_SCALARS, ...types.output];
  return html`<div class="inline">
      <${Field} label="Name" path="$.args.name">
        <input name="name" value=${value.name} disabled=${editing} onInput=${(e) => setValue({ ...value, name: e.target.value })} />
      <//>
      <${Field} label="Comment" path="$.args.comment" className="grow">
        <input name="comment" value=${value.comment || ""} onInput=${(e) => setValue({ ...value, comment: e.target.value })} />
      <//>
    </div>
    <div class="inline">
      <${Field} label="Type" path=${`${D}.type`}>
        <select name="type" value=${d.type || "mutation"} onChange=${(e) => set({ ...d, type: e.target.value })}>
          <option>mutation</option><option>query</option>
        </select>
      <//>
      <${Field} label="Kind" path=${`${D}.kind`}>
        <select name="kind" value=${d.kind || "synchronous"} disabled=${d.type === "query"} onChange=${(e) => set({ ...d, kind: e.target.value })}>
          <option>synchronous</option><option>asynchronous</option>
        </select>
      <//>
      <${Field} label="Timeout (s)" path=${`${D}.timeout`}>
        <input name="timeout" type="number" min="0" placeholder="30" value=${d.timeout ?? ""}
          onInput=${(e) => set({ ...d, timeout: e.target.value === "" ? undefined : Number(e.target.value) })} />
      <//>
      <${Field} label="Output type" path=${`${D}.output_type`} hint="An object, scalar or enum; [T!]! allowed">
        <input name="output_type" list="output-types" value=${d.output_type || ""} onInput=${(e) => set({ ...d, output_type: e.target.value })} />
      <//>
    </div>
    <${Runner} d=${d} set=${set} sources=${sources} />
    <${Rows} label="Arguments" path=${`${D}.arguments`} rows=${d.arguments || []} blank=${{ name: "", type: "String" }}
      onChange=${(args) => set({ ...d, arguments: args })}>
      ${(a, setA, p) => html`<${Field} path=${`${p}.name`}><input placeholder="name" aria-label="Argument name" value=${a.name} onInput=${(e) => setA({ ...a, name: e.target.value })} /><//>
        <${Field} path=${`${p}.type`}><input placeholder="type" aria-label="Argument type" list="input-types" value=${a.type} onInput=${(e) => setA({ ...a, type: e.target.value })} /><//>
        <${Field} path=${`${p}.description`} className="grow"><input placeholder="description" aria-label="Argument description" value=${a.description || ""} onInput=${(e) => setA({ ...a, description: e.target.value })} /><//>`}
    <//>
    ${(d.request_transform || d.response_transform || d.retry_conf) &&
    html`<p class="muted">Transforms and retries are kept as they are; edit them in the JSON or YAML view.</p>`}
    <datalist id="input-types">${inputTypes.map((t) => html`<option value=${t} />`)}</datalist>
    <datalist id="output-types">${outputTypes.map((t) => html`<option value=${t} />`)}</datalist>`;
}

export function ActionForm({ initial, editing, types, sources, onSaved }) {
  const [value, setValue] = useState(initial);
  const [view, setView] = useState("form");
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [busy, setBusy] = useState(false);
  const [checkedSave, breakingDialog] = useCheckedSave();

  const onSwitch = (to) => {
    try {
      const next = switchView(view, to, view === "form" ? actionArgs(value) : value, text);
      if (view !== "form") setValue({ ...NEW_ACTION, ...next.value, definition: { ...next.value.definition } });
      setText(next.text);
      setView(to);
      setError(null);
    } catch (exc) {
      setError({ message: `the ${view.toUpperCase()} cannot be read: ${exc.message}`, path: "$.args", code: "parse-failed" });
    }
  };

  const save = async () => {
    let args;
    try {
      args = view === "form" ? actionArgs(value) : switchView(view, "form", null, text).value;
    } catch (exc) {
      return setError({ message: `the ${view.toUpperCase()} cannot be read: ${exc.message}`, path: "$.args", code: "parse-failed" });
    }
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      // An edit that breaks a role's GraphQL schema is shown and asked about first.
      const answer = await checkedSave(editing ? "update_action" : "create_action", args);
      if (!answer) return;
      setSaved(answer.resource_version);
      onSaved && onSaved(args.name, answer);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  return html`<${ErrorForm} error=${error} onSubmit=${save} class="action-form">
    <${ViewSwitch} view=${view} onSwitch=${onSwitch} />
    ${view === "form"
      ? html`<${FormView} value=${value} setValue=${setValue} editing=${editing} types=${types} sources=${sources} />`
      : html`<${RawText} text=${text} setText=${setText} label=${`${view.toUpperCase()}: the arguments of ${editing ? "update_action" : "create_action"}`} />`}
    ${saved && html`<${Notice}>Saved: resource version ${saved}</${Notice}>`}
    <div class="buttons"><button type="submit" class="primary" disabled=${busy}>${editing ? "Save" : "Create action"}</button></div>
    ${breakingDialog}
  <//>`;
}
