// Shared pieces of the pages: loading, errors at their field, confirmations, paging, JSON.
import {
  cloneElement,
  createContext,
  html,
  toChildArray,
  useContext,
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
} from "./lib.js";

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

// What a person reads of a refusal: one plain sentence; the server's code, path and own words
// (when the sentence is not them) go in a details line beneath it.
const PLAIN = {
  unreachable: () => "The server cannot be reached: check that it is running, then try again.",
  conflict: () => "The metadata changed since this page read it (someone saved first): reload the page, then try again.",
  "rate-limited": () => "Too many tries in a short time: wait a moment, then try again.",
  unexpected: (e) => (e.status >= 500 ? "The server failed to answer. Its log says why." : null),
};

// The server's words as a sentence: a leading plain word capitalized (never a name: those are
// quoted, or hold _ - . or digits), a full stop added.
export function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return "Something went wrong.";
  const [first] = t.split(/\s/, 1);
  const s = /^[a-z]+$/.test(first) ? t[0].toUpperCase() + t.slice(1) : t;
  return /[.!?…)]$/.test(s) ? s : `${s}.`;
}

export function readable(error) {
  const raw = error.message || error.error || "";
  const plain = error.plain || (PLAIN[error.code] && PLAIN[error.code](error)) || sentence(raw.split("\n")[0]);
  return { plain, raw: plain === sentence(raw) ? null : raw, code: error.code, path: error.path && error.path !== "$" ? error.path : null };
}

// The details line: code, path, and the server's words when the sentence is not them.
export function ErrorDetails({ error, id }) {
  const { raw, code, path } = readable(error);
  if (!raw && !code && !path) return null;
  return html`<small class="error-details" id=${id}>
    ${code && html`<span class="code">${code}</span>`}${path && html` at <span class="path">${path}</span>`}${raw && html`${code || path ? ": " : ""}<span class="raw">${raw}</span>`}
  </small>`;
}

const FieldError = createContext({ at: null, error: null });

// A form whose fields (data-path) show the server's refusal at the field its path (or `at`, where
// the path names what holds the field) points to;
// a refusal no field owns is a banner at the top. Either way it is shown once.
export function ErrorForm({ error, onSubmit, children, ...rest }) {
  const ref = useRef(null);
  const [at, setAt] = useState(null);
  useLayoutEffect(() => {
    if (!error || !ref.current) return setAt(null);
    const paths = [...ref.current.querySelectorAll("[data-path]")].map((el) => el.dataset.path);
    const found = fieldOf(error.at || error.path || "$", paths);
    setAt(found);
    const el = found && ref.current.querySelector(`[data-path="${CSS.escape(found)}"]`);
    if (!el) return;
    const control = el.querySelector("input:not([type=hidden]), select, textarea");
    if (control && !control.disabled) control.focus({ preventScroll: true });
    el.scrollIntoView({ block: "center" });
  }, [error]);
  const submit = (event) => {
    event.preventDefault();
    onSubmit && onSubmit(event);
  };
  return html`<form ref=${ref} onSubmit=${submit} novalidate ...${rest}>
    <${FieldError.Provider} value=${{ at, error }}>
      ${error && at === null && html`<${ErrorBanner} error=${error} />`} ${children}
    <//>
  </form>`;
}

const CONTROLS = ["input", "select", "textarea"];

// A labelled field; shows the refusal when the server's path points at it. The label, the hint
// and the refusal are tied to the field's control (its first input, select or textarea).
export function Field({ label, path, hint, children, className = "", required = false }) {
  const { at, error } = useContext(FieldError);
  const mine = !!error && at !== null && at === path;
  const id = useId();
  let tied = null;
  const described = mine ? `${id}-error ${id}-details` : hint ? `${id}-hint` : undefined;
  const kids = toChildArray(children).map((child) => {
    if (tied || !child || typeof child !== "object" || !CONTROLS.includes(child.type)) return child;
    tied = child.props.id || `${id}-control`;
    const extra = { id: tied };
    if (described) extra["aria-describedby"] = described;
    if (mine) extra["aria-invalid"] = "true";
    if (required) extra["aria-required"] = "true";
    return cloneElement(child, extra);
  });
  return html`<div class="field ${className} ${mine ? "has-error" : ""}" data-path=${path}>
    ${label && html`<label for=${tied}>${label}${required && html`<span class="required" aria-hidden="true"> *</span>`}</label>`} ${kids}
    ${hint && !mine && html`<small class="hint" id=${`${id}-hint`}>${hint}</small>`}
    ${mine && html`<small class="field-error" id=${`${id}-error`} role="alert">${readable(error).plain}</small>
      <${ErrorDetails} error=${error} id=${`${id}-details`} />`}
  </div>`;
}

// A group of fields that is itself where some refusals point ($.args.definition, a list).
export function Fieldset({ legend, path, children, className = "" }) {
  const { at, error } = useContext(FieldError);
  const mine = !!error && at !== null && at === path;
  return html`<fieldset class="${className} ${mine ? "has-error" : ""}" data-path=${path}>
    ${legend && html`<legend>${legend}</legend>`}
    ${mine && html`<small class="field-error" role="alert">${readable(error).plain}</small> <${ErrorDetails} error=${error} />`} ${children}
  </fieldset>`;
}

export function ErrorBanner({ error }) {
  if (!error) return null;
  return html`<div class="banner error" role="alert">
    <p class="plain">${readable(error).plain}</p>
    <${ErrorDetails} error=${error} />
  </div>`;
}

export function Notice({ children }) {
  return html`<div class="banner ok" role="status">${children}</div>`;
}

const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

// Tab from the last control goes to the first, Shift+Tab from the first to the last: the
// browser's own modal lets focus out to its address bar.
function trapTab(event) {
  if (event.key !== "Tab") return;
  const controls = [...event.currentTarget.querySelectorAll(FOCUSABLE)];
  if (!controls.length) return;
  const [first, last] = [controls[0], controls[controls.length - 1]];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

// A confirmation step for anything that drops or rolls back: a modal dialog (the page behind
// is inert, so Tab stays in it), focus on Cancel, Escape cancels, and focus goes back to what
// opened it.
export function Confirm({ message, confirmLabel = "Confirm", onConfirm, onCancel, children }) {
  const ref = useRef(null);
  const done = useRef(false);
  const [busy, setBusy] = useState(false);
  const id = useId();
  useLayoutEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement;
    done.current = false;
    dialog.showModal();
    return () => {
      done.current = true;
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected && opener !== document.body) opener.focus();
    };
  }, []);
  const confirm = async () => {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
    }
  };
  // Escape closes the dialog itself (a close request); the page then forgets it.
  const closed = () => {
    if (!done.current) {
      done.current = true;
      onCancel();
    }
  };
  return html`<dialog ref=${ref} class="dialog" aria-labelledby=${`${id}-message`} onClose=${closed} onKeyDown=${trapTab}>
    <p id=${`${id}-message`}>${message}</p>
    ${children}
    <div class="buttons">
      <button type="button" autofocus onClick=${onCancel}>Cancel</button>
      <button type="button" class="danger" disabled=${busy} onClick=${confirm}>${confirmLabel}</button>
    </div>
  </dialog>`;
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
