// Form fields generated from GraphQL input types: scalars, enums as selects, lists, nested input
// objects, JSON for custom scalars; required ones marked. Each field's data-path is where
// run_action would point at its value ($.args.input.user.emails[1]).
import { html, useState } from "./lib.js";
import { Field, Fieldset } from "./ui.js";

// "[UserInput!]!" -> {nullable: false, list: {nullable: true, ... {name: "UserInput"}}}
export function parseType(text) {
  const t = text.trim();
  if (t.endsWith("!")) return { ...parseType(t.slice(0, -1)), nullable: false };
  if (t.startsWith("[") && t.endsWith("]")) return { nullable: true, list: parseType(t.slice(1, -1)) };
  return { nullable: true, name: t };
}

// The signature's types by name: {input_objects: {Name: type}, enums: {Name: type}}.
export function typeIndex(types) {
  const index = (list) => Object.fromEntries((list || []).map((t) => [t.name, t]));
  return { input_objects: index(types.input_objects), enums: index(types.enums) };
}

const NUMBERS = { Int: "1", Float: "any" };

// A legend's name, marked when required (a field's label is marked by Field's `required`).
function Label({ label, type }) {
  return html`${label}${!type.nullable && html`<span class="required" title="required"> *</span>`}`;
}

function JsonScalar({ value, onChange, path, label, type, name, placeholder }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value));
  const input = (e) => {
    const t = e.target.value;
    setText(t);
    if (t.trim() === "") return onChange(undefined);
    try {
      onChange(JSON.parse(t));
    } catch {
      onChange(t); // not JSON: a plain string, as most custom scalars (dates, ids) are
    }
  };
  return html`<${Field} label=${label} required=${!type.nullable} path=${path} hint=${`${name}: JSON, or plain text for a string`}>
    <textarea class="code" rows="2" value=${text} placeholder=${placeholder} onInput=${input}></textarea>
  <//>`;
}

function Scalar({ type, value, onChange, path, label, types, description, placeholder }) {
  const name = type.name;
  const field = { label, path, hint: description, required: !type.nullable };
  const enumType = types.enums[name];
  if (enumType)
    return html`<${Field} ...${field}>
      <select value=${value ?? ""} onChange=${(e) => onChange(e.target.value || undefined)}>
        <option value="">${type.nullable ? "(none)" : "choose…"}</option>
        ${enumType.values.map((v) => html`<option value=${v.value}>${v.value}</option>`)}
      </select>
    <//>`;
  if (name === "Boolean")
    return html`<${Field} ...${field}>
      <select value=${value === undefined ? "" : String(value)}
        onChange=${(e) => onChange(e.target.value === "" ? undefined : e.target.value === "true")}>
        <option value="">${type.nullable ? "(none)" : "choose…"}</option><option value="true">true</option><option value="false">false</option>
      </select>
    <//>`;
  if (name in NUMBERS)
    return html`<${Field} ...${field}>
      <input type="number" step=${NUMBERS[name]} value=${value ?? ""} placeholder=${placeholder}
        onInput=${(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
    <//>`;
  if (name === "String" || name === "ID")
    return html`<${Field} ...${field}>
      <input value=${value ?? ""} placeholder=${placeholder} onInput=${(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
    <//>`;
  return html`<${JsonScalar} value=${value} onChange=${onChange} path=${path} label=${label} type=${type} name=${name}
    placeholder=${placeholder} />`;
}

export function InputValue(props) {
  const { type, value, onChange, path, label, types } = props;
  if (type.list) {
    const items = Array.isArray(value) ? value : [];
    const set = (i, v) => onChange(items.map((x, j) => (j === i ? v : x)));
    return html`<${Fieldset} className="list-input" legend=${html`<${Label} label=${label} type=${type} />`} path=${path}>
      ${items.map(
        (item, i) => html`<div class="list-item">
          <${InputValue} type=${type.list} value=${item} onChange=${(v) => set(i, v)} path=${`${path}[${i}]`}
            label=${`${label} ${i + 1}`} types=${types} />
          <button type="button" class="link danger" onClick=${() => onChange(items.filter((_, j) => j !== i))}>Remove</button>
        </div>`,
      )}
      <button type="button" onClick=${() => onChange([...items, type.list.list ? [] : undefined])}>Add to ${label}</button>
    <//>`;
  }
  const inputObject = types.input_objects[type.name];
  if (inputObject) {
    const object = value && typeof value === "object" ? value : {};
    return html`<${Fieldset} className="object-input" legend=${html`<${Label} label=${label} type=${type} /> <span class="muted">${type.name}</span>`} path=${path}>
      ${inputObject.fields.map(
        (f) => html`<${InputValue} key=${f.name} type=${parseType(f.type)} value=${object[f.name]} label=${f.name}
          description=${f.description} path=${`${path}.${f.name}`} types=${types}
          onChange=${(v) => onChange({ ...object, [f.name]: v })} />`,
      )}
    <//>`;
  }
  return html`<${Scalar} ...${props} />`;
}

// run_action points a missing argument (or input object field) at what holds it
// ($.args.input); the field to say so at (`at`) is the missing one's ($.args.input.email).
export function inputError(status, body) {
  const error = { status, message: body.error, code: body.code, path: body.path };
  const missing = /^missing required (?:argument|field) "([^"]+)"/.exec(body.error || "");
  if (missing && body.path && body.path.startsWith("$.args.input")) error.at = `${body.path}.${missing[1]}`;
  return error;
}
