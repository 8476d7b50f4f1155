// A public action's form (/public/action/<uuid>, Metabase's URL): anyone with the link fills it
// in, without signing in, and it is sent as run_public_action (the link's rate limit, the same
// checks and execution as any run). It shows the action's name, description and arguments, and
// nothing else of the server.
import { query } from "./api.js";
import { html, render, useEffect, useRef, useState } from "./lib.js";
import { InputValue, inputError, parseType, typeIndex } from "./input_fields.js";
import { ErrorBanner, ErrorForm } from "./ui.js";

const UUID = decodeURIComponent(window.location.pathname.split("/").filter(Boolean)[2] || "");

function Gone() {
  useEffect(() => {
    document.title = "This link no longer works";
  }, []);
  return html`<main class="public-form gone" data-page="public-gone" data-ready="true">
    <h1>This link no longer works</h1>
    <p>The form it opened was taken down, or its link was turned off. Ask whoever sent you the link for a new one.</p>
  </main>`;
}

function Sent({ message, onAgain }) {
  const ref = useRef(null);
  useEffect(() => ref.current && ref.current.focus(), []);
  return html`<div class="sent">
    <p class="banner ok" role="status" tabindex="-1" ref=${ref}>${message}</p>
    <button type="button" onClick=${onAgain}>Fill it in again</button>
  </div>`;
}

function PublicForm({ form }) {
  const [input, setInput] = useState({});
  const [error, setError] = useState(null);
  const [sent, setSent] = useState(false);
  const [gone, setGone] = useState(false);
  const [busy, setBusy] = useState(false);
  const types = typeIndex(form.types);
  useEffect(() => {
    document.title = form.name;
  }, [form.name]);

  const send = async () => {
    setBusy(true);
    setError(null);
    try {
      // No credentials: the link is the permission, whoever opens it.
      const args = { uuid: UUID, input: { ...form.hidden, ...input } };
      const { status, body } = await query("run_public_action", args, { credentials: null, raw: true });
      if (status === 200) {
        setSent(true);
        setInput({});
      } else if (body.code === "not-exists" && (body.path || "").startsWith("$.args.uuid")) setGone(true);
      else setError(inputError(status, body));
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  if (gone) return html`<${Gone} />`;
  return html`<main class="public-form" data-page="public-action" data-ready="true">
    <h1>${form.name}</h1>
    ${form.description && html`<p class="description">${form.description}</p>`}
    ${sent
      ? html`<${Sent} message=${form.success_message} onAgain=${() => setSent(false)} />`
      : html`<${ErrorForm} error=${error} onSubmit=${send} class="run-form" aria-label=${form.name}>
          ${form.arguments.map(
            (a) => html`<${InputValue} key=${a.name} type=${parseType(a.type)} value=${input[a.name]} label=${a.label || a.name}
              description=${a.description} placeholder=${a.placeholder} path=${`$.args.input.${a.name}`} types=${types}
              onChange=${(v) => setInput({ ...input, [a.name]: v })} />`,
          )}
          <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Submit</button></div>
        <//>`}
  </main>`;
}

function App() {
  const [state, setState] = useState({ phase: "loading" });
  useEffect(() => {
    (async () => {
      try {
        const response = await fetch(`/public/action/${encodeURIComponent(UUID)}/form`, { headers: { accept: "application/json" } });
        const body = await response.json();
        if (response.status === 404) return setState({ phase: "gone" });
        if (!response.ok) return setState({ phase: "failed", error: { message: body.error, code: body.code, status: response.status } });
        setState({ phase: "ready", form: body });
      } catch (exc) {
        setState({ phase: "failed", error: { message: exc.message, code: "unreachable" } });
      }
    })();
  }, []);
  if (state.phase === "loading") return html`<p class="loading">Loading the form…</p>`;
  if (state.phase === "gone") return html`<${Gone} />`;
  if (state.phase === "failed")
    return html`<main class="public-form" data-page="public-unavailable" data-ready="true">
      <h1>This form cannot be shown just now</h1>
      <${ErrorBanner} error=${state.error} />
    </main>`;
  return html`<${PublicForm} form=${state.form} />`;
}

render(html`<${App} />`, document.getElementById("app"));
