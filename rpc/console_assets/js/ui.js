// Shared pieces of the pages: loading, errors at their field, confirmations, paging, JSON.
import { createContext, html, useContext, useEffect, useRef, useState } from "./lib.js";

// Load data when `deps` change; `reload` loads again.
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

// The field an error belongs to: the longest of `paths` that is the error's path or one of
// its parents ($.args.definition.arguments[0] holds $.args.definition.arguments[0].type).
export function fieldOf(errorPath, paths) {
  let best = null;
  for (const p of paths) {
    const owns = errorPath === p || errorPath.startsWith(p + ".") || errorPath.startsWith(p + "[");
    if (owns && (best === null || p.length > best.length)) best = p;
  }
  return best;
}

const FieldError = createContext({ at: null, message: null });

// A form whose fields (data-path) show the server's refusal at the field its path points to.
export function ErrorForm({ error, onSubmit, children, ...rest }) {
  const ref = useRef(null);
  const [at, setAt] = useState(null);
  useEffect(() => {
    if (!error || !ref.current) return setAt(null);
    const paths = [...ref.current.querySelectorAll("[data-path]")].map((el) => el.dataset.path);
    const found = fieldOf(error.path || "$", paths);
    setAt(found);
    const el = found && ref.current.querySelector(`[data-path="${CSS.escape(found)}"]`);
    if (el) el.scrollIntoView({ block: "center" });
  }, [error]);
  const submit = (event) => {
    event.preventDefault();
    onSubmit && onSubmit(event);
  };
  return html`<form ref=${ref} onSubmit=${submit} novalidate ...${rest}>
    <${FieldError.Provider} value=${{ at, message: error && error.message }}>
      ${error && html`<${ErrorBanner} error=${error} />`} ${children}
    <//>
  </form>`;
}

// A labelled field; shows the refusal when the server's path points at it.
export function Field({ label, path, hint, children, className = "" }) {
  const { at, message } = useContext(FieldError);
  const mine = at !== null && at === path;
  return html`<div class="field ${className} ${mine ? "has-error" : ""}" data-path=${path}>
    ${label && html`<label>${label}</label>`} ${children} ${hint && !mine && html`<small class="hint">${hint}</small>`}
    ${mine && html`<small class="field-error" role="alert">${message}</small>`}
  </div>`;
}

// A group of fields that is itself where some refusals point ($.args.definition, a list).
export function Fieldset({ legend, path, children, className = "" }) {
  const { at, message } = useContext(FieldError);
  const mine = at !== null && at === path;
  return html`<fieldset class="${className} ${mine ? "has-error" : ""}" data-path=${path}>
    ${legend && html`<legend>${legend}</legend>`}
    ${mine && html`<small class="field-error" role="alert">${message}</small>`} ${children}
  </fieldset>`;
}

export function ErrorBanner({ error }) {
  if (!error) return null;
  return html`<div class="banner error" role="alert">
    <strong>${error.message}</strong>
    ${error.code && html` <span class="code">${error.code}</span>`}
    ${error.path && error.path !== "$" && html` <span class="path">at ${error.path}</span>`}
  </div>`;
}

export function Notice({ children }) {
  return html`<div class="banner ok" role="status">${children}</div>`;
}

// A confirmation step for anything that drops or rolls back.
export function Confirm({ message, confirmLabel = "Confirm", onConfirm, onCancel, children }) {
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="overlay">
    <div class="dialog" role="dialog" aria-modal="true" aria-label=${message}>
      <p>${message}</p>
      ${children}
      <div class="buttons">
        <button type="button" onClick=${onCancel}>Cancel</button>
        <button type="button" class="danger" disabled=${busy} onClick=${confirm}>${confirmLabel}</button>
      </div>
    </div>
  </div>`;
}

// Paging: with a total (list_actions) or without one (a log: more when the page is full).
export function Pager({ offset, limit, total, shown, onChange }) {
  const more = total != null ? offset + shown < total : shown === limit;
  const of = total != null ? ` of ${total.toLocaleString("en")}` : "";
  return html`<div class="pager">
    <span>${shown ? `${offset + 1}–${offset + shown}${of}` : "none"}</span>
    <button type="button" disabled=${offset === 0} onClick=${() => onChange(Math.max(0, offset - limit))}>‹ Previous</button>
    <button type="button" disabled=${!more} onClick=${() => onChange(offset + limit)}>Next ›</button>
  </div>`;
}

export function Json({ value, className = "" }) {
  return html`<pre class="json ${className}">${JSON.stringify(value, null, 2)}</pre>`;
}

// A page: its title, its toolbar, and `ready` once its data is shown (tests and the benchmark
// wait for it).
export function Page({ name, title, ready, tools, children }) {
  return html`<main data-page=${name} data-ready=${ready ? "true" : "false"}>
    <header class="page-head"><h1>${title}</h1><div class="tools">${tools}</div></header>
    ${children}
  </main>`;
}

export function go(hash) {
  window.location.hash = hash;
}

export const when = (iso) => (iso ? iso.replace("T", " ").replace("Z", "") : "");
