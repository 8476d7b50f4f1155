// The raw view of a form's value: JSON or YAML text, parsed back when the form is shown again.
import { dump, load } from "../vendor/js-yaml.js";
import { html } from "./lib.js";
import { Field } from "./ui.js";

export function toText(value, format) {
  return format === "yaml" ? dump(value, { lineWidth: 120, noRefs: true }) : JSON.stringify(value, null, 2);
}

export function fromText(text, format) {
  const value = format === "yaml" ? load(text) : JSON.parse(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("expected an object");
  return value;
}

// view: "form" | "json" | "yaml". Switching to a raw view writes the value out; switching
// away parses it back (a parse error keeps the raw view open, shown at its field).
export function ViewSwitch({ view, onSwitch }) {
  return html`<div class="view-switch" role="tablist">
    ${["form", "json", "yaml"].map(
      (v) => html`<button type="button" role="tab" aria-selected=${view === v} class=${view === v ? "current" : ""}
        onClick=${() => onSwitch(v)}>${v === "form" ? "Form" : v.toUpperCase()}</button>`,
    )}
  </div>`;
}

export function RawText({ text, setText, path = "$.args", label }) {
  return html`<${Field} label=${label} path=${path} className="raw">
    <textarea class="code" spellcheck="false" rows="24" aria-label="Raw definition" value=${text}
      onInput=${(e) => setText(e.target.value)}></textarea>
  <//>`;
}

// Moves between views; returns the new value (parsed from the raw text) or throws.
export function switchView(from, to, value, text) {
  const parsed = from === "form" ? value : fromText(text, from);
  return { value: parsed, text: to === "form" ? "" : toText(parsed, to) };
}
