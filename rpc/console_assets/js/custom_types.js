// Custom types: list, create, edit, drop. set_custom_types replaces them all, so each save
// sends the whole set with the resource_version it was read at (a concurrent edit is a 409,
// never a lost update).
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { RawText, ViewSwitch, switchView } from "./raw.js";
import { Confirm, ErrorBanner, ErrorForm, Field, Fieldset, Notice, Page, useLoad } from "./ui.js";
import { useCheckedSave } from "./breaking.js";

const SECTIONS = [
  ["input_objects", "Input objects", "input"],
  ["objects", "Objects", "type"],
  ["scalars", "Scalars", "scalar"],
  ["enums", "Enums", "enum"],
];
const BLANK = {
  input_objects: { name: "", fields: [{ name: "", type: "String" }] },
  objects: { name: "", fields: [{ name: "", type: "String" }] },
  scalars: { name: "" },
  enums: { name: "", values: [{ value: "" }] },
};

function clean(type) {
  const out = { ...type };
  if (!out.description) delete out.description;
  if (out.fields) out.fields = out.fields.map((f) => (f.description ? f : { name: f.name, type: f.type }));
  if (out.values) out.values = out.values.map((v) => (v.description || v.is_deprecated != null ? v : { value: v.value }));
  return out;
}

function TypeForm({ section, index, value, setValue }) {
  const p = `$.args.${section}[${index}]`;
  const list = value.fields ? "fields" : value.values ? "values" : null;
  const rows = list ? value[list] : [];
  const setRow = (i, row) => setValue({ ...value, [list]: rows.map((r, j) => (j === i ? row : r)) });
  return html`<div class="inline">
      <${Field} label="Name" path=${`${p}.name`}><input name="type_name" value=${value.name} onInput=${(e) => setValue({ ...value, name: e.target.value })} /><//>
      <${Field} label="Description" path=${`${p}.description`} className="grow">
        <input name="type_description" value=${value.description || ""} onInput=${(e) => setValue({ ...value, description: e.target.value })} />
      <//>
    </div>
    ${list &&
    html`<${Fieldset} className="rows" legend=${list === "fields" ? "Fields" : "Values"} path=${`${p}.${list}`}>
      ${rows.map(
        (row, i) => html`<${Field} className="row" path=${`${p}.${list}[${i}]`}>
          ${list === "fields"
            ? html`<${Field} path=${`${p}.fields[${i}].name`}><input aria-label="Field name" placeholder="name" value=${row.name} onInput=${(e) => setRow(i, { ...row, name: e.target.value })} /><//>
                <${Field} path=${`${p}.fields[${i}].type`}><input aria-label="Field type" placeholder="type" value=${row.type} onInput=${(e) => setRow(i, { ...row, type: e.target.value })} /><//>`
            : html`<${Field} path=${`${p}.values[${i}].value`}><input aria-label="Enum value" placeholder="VALUE" value=${row.value} onInput=${(e) => setRow(i, { ...row, value: e.target.value })} /><//>`}
          <${Field} path=${`${p}.${list}[${i}].description`} className="grow"><input aria-label="Description" placeholder="description" value=${row.description || ""} onInput=${(e) => setRow(i, { ...row, description: e.target.value })} /><//>
          <button type="button" class="link danger" onClick=${() => setValue({ ...value, [list]: rows.filter((_, j) => j !== i) })}>Remove</button>
        <//>`,
      )}
      <button type="button" onClick=${() => setValue({ ...value, [list]: [...rows, list === "fields" ? { name: "", type: "String" } : { value: "" }] })}>
        Add ${list === "fields" ? "field" : "value"}
      </button>
    <//>`}`;
}

export function CustomTypes() {
  const [version, setVersion] = useState(0);
  const loaded = useLoad(() => query("export_metadata", { sections: ["custom_types"] }, { version: 2 }), [version]);
  const [editing, setEditing] = useState(null); // {section, index (null: new), value}
  const [dropping, setDropping] = useState(null);
  const [view, setView] = useState("form");
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [checkedSave, breakingDialog] = useCheckedSave();
  const data = loaded.data;
  const types = (data && data.metadata.custom_types) || {};

  const send = async (all) => {
    setError(null);
    try {
      // A type edit that breaks a role's GraphQL schema (a field removed...) is asked about first.
      const answer = await checkedSave("set_custom_types", all, { resource_version: data.resource_version });
      if (!answer) return;
      setSaved(answer.resource_version);
      setEditing(null);
      setDropping(null);
      setView("form");
      setVersion((v) => v + 1);
    } catch (exc) {
      setError(exc);
      setDropping(null);
    }
  };
  const withEdit = () => {
    const { section, index, value } = editing;
    const list = [...(types[section] || [])];
    if (index === null) list.push(clean(value));
    else list[index] = clean(value);
    return { ...types, [section]: list };
  };
  const onSwitch = (to) => {
    try {
      const next = switchView(view, to, types, text);
      if (to === "form" && view !== "form") return send(next.value);
      setText(next.text);
      setView(to);
    } catch (exc) {
      setError({ message: `the ${view.toUpperCase()} cannot be read: ${exc.message}`, path: "$.args", code: "parse-failed" });
    }
  };

  const editIndex = editing && (editing.index === null ? (types[editing.section] || []).length : editing.index);
  return html`<${Page} name="types" title="Custom types" ready=${!!data}
    tools=${html`<select aria-label="New type kind" onChange=${(e) => e.target.value && (setEditing({ section: e.target.value, index: null, value: structuredClone(BLANK[e.target.value]) }), (e.target.value = ""))}>
      <option value="">New type…</option>${SECTIONS.map(([s, label]) => html`<option value=${s}>${label.replace(/s$/, "")}</option>`)}
    </select>`}>
    <${ErrorBanner} error=${loaded.error} />
    ${saved && html`<${Notice}>Saved: resource version ${saved}</${Notice}>`}
    ${editing &&
    html`<${ErrorForm} error=${error} onSubmit=${() => send(withEdit())} class="type-form">
      <h2>${editing.index === null ? "New" : "Edit"} ${SECTIONS.find((s) => s[0] === editing.section)[1].toLowerCase().replace(/s$/, "")}</h2>
      <${TypeForm} section=${editing.section} index=${editIndex} value=${editing.value} setValue=${(value) => setEditing({ ...editing, value })} />
      <div class="buttons"><button type="button" onClick=${() => (setEditing(null), setError(null))}>Cancel</button>
        <button type="submit" class="primary">Save type</button></div>
    <//>`}
    ${data && !editing &&
    html`<${ErrorForm} error=${error} onSubmit=${() => onSwitch("form")}>
      <${ViewSwitch} view=${view} onSwitch=${onSwitch} />
      ${view !== "form" && html`<${RawText} text=${text} setText=${setText} label="All custom types (the arguments of set_custom_types); back to Form saves them" />`}
    <//>`}
    ${data && !editing && view === "form" &&
    SECTIONS.map(
      ([section, label, keyword]) => html`<section class="types">
        <h2>${label}</h2>
        ${!(types[section] || []).length && html`<p class="empty">None.</p>`}
        ${(types[section] || []).map(
          (t, i) => html`<div class="type-card" data-type=${t.name}>
            <pre class="code">${keyword} ${t.name}${t.fields ? ` { ${t.fields.map((f) => `${f.name}: ${f.type}`).join(", ")} }` : ""}${t.values ? ` { ${t.values.map((v) => v.value).join(" ")} }` : ""}</pre>
            <span class="muted">${t.description || ""}</span>
            <button type="button" onClick=${() => setEditing({ section, index: i, value: structuredClone(t) })}>Edit</button>
            <button type="button" class="danger" onClick=${() => setDropping({ section, index: i, name: t.name })}>Drop</button>
          </div>`,
        )}
      </section>`,
    )}
    ${dropping &&
    html`<${Confirm} message=${`Drop the type ${dropping.name}?`} confirmLabel="Drop type" onCancel=${() => setDropping(null)}
      onConfirm=${() => send({ ...types, [dropping.section]: types[dropping.section].filter((_, j) => j !== dropping.index) })} />`}
    ${breakingDialog}
  <//>`;
}
