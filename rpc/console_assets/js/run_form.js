// Run an action from a form generated from its signature, as a chosen role, or as a dry run;
// the answer shown as it came back, an asynchronous run followed until it finishes.
import { query } from "./api.js";
import { html, useEffect, useState } from "./lib.js";
import { InputValue, inputError, parseType, typeIndex } from "./input_fields.js";
import { ErrorBanner, ErrorForm, Field, Json, useLoad } from "./ui.js";

const FINISHED = ["completed", "error", "cancelled"];

function AsyncRun({ id }) {
  const [run, setRun] = useState(null);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState(null);
  const [replayed, setReplayed] = useState(null);
  // A run still queued may be cancelled; a finished one replayed (a new run, followed below).
  const act = async (type) => {
    setError(null);
    try {
      const answer = await query(type, { id });
      if (type === "replay_action_run") setReplayed(answer.id);
      setTick((t) => t + 1);
    } catch (exc) {
      setError(exc);
    }
  };
  useEffect(() => {
    let live = true;
    let timer;
    const poll = async () => {
      const { body } = await query("get_action_result", { id }, { raw: true });
      if (!live) return;
      setRun(body);
      if (!FINISHED.includes(body.status) && body.id) timer = setTimeout(poll, 250);
    };
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id, tick]);
  if (!run) return html`<p>Run ${id} queued…</p>`;
  return html`<div class="async-run" data-status=${run.status}>
    <p>Run <code>${id}</code>: <span class=${`status ${run.status}`}>${run.status}</span>
      ${run.attempts != null && html` <span class="muted">attempt ${run.attempts}</span>`}</p>
    ${run.status === "completed" && html`<${Json} value=${run.output} className="output" />`}
    ${(run.status === "error" || run.status === "cancelled") && html`<${Json} value=${run.errors} className="errors" />`}
    <${ErrorBanner} error=${error} />
    <div class="buttons">
      ${run.status === "created" && html`<button type="button" class="danger" onClick=${() => act("cancel_action_run")}>Cancel run</button>`}
      ${FINISHED.includes(run.status) && !replayed && html`<button type="button" onClick=${() => act("replay_action_run")}>Replay run</button>`}
    </div>
    ${replayed && html`<${AsyncRun} id=${replayed} />`}
  </div>`;
}

export function RunForm({ action }) {
  const signature = useLoad(() => query("get_action_signature", { name: action.name }), [action.name]);
  const [input, setInput] = useState({});
  const [role, setRole] = useState("admin");
  const [dryRun, setDryRun] = useState(false);
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const roles = ["admin", ...(action.permissions || []).map((p) => p.role)];

  const run = async () => {
    setBusy(true);
    setError(null);
    setAnswer(null);
    const args = { name: action.name, input };
    if (dryRun) args.dry_run = true;
    try {
      const got = await query("run_action", args, { role: role === "admin" ? undefined : role, raw: true });
      setAnswer(got);
      if (got.status !== 200) setError(inputError(got.status, got.body));
    } finally {
      setBusy(false);
    }
  };

  if (signature.error) return html`<${ErrorBanner} error=${signature.error} />`;
  if (!signature.data) return html`<p class="loading">Loading the signature…</p>`;
  const sig = signature.data;
  const types = typeIndex(sig.types);
  return html`<div class="split">
    <${ErrorForm} error=${error} onSubmit=${run} class="run-form">
      ${sig.arguments.length === 0 && html`<p class="muted">This action takes no arguments.</p>`}
      ${sig.arguments.map(
        (a) => html`<${InputValue} key=${a.name} type=${parseType(a.type)} value=${input[a.name]} label=${a.name}
          description=${a.description} path=${`$.args.input.${a.name}`} types=${types}
          onChange=${(v) => setInput({ ...input, [a.name]: v })} />`,
      )}
      <div class="inline run-options">
        <${Field} label="Run as role" path="$role">
          <select name="role" value=${role} onChange=${(e) => setRole(e.target.value)}>
            ${roles.map((r) => html`<option value=${r}>${r}</option>`)}
          </select>
        <//>
        <${Field} path="$.args.dry_run">
          <label class="check"><input type="checkbox" name="dry_run" checked=${dryRun} onChange=${(e) => setDryRun(e.target.checked)} /> Dry run: show what it would do</label>
        <//>
      </div>
      <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Run</button></div>
    <//>
    <section class="answer" data-answer=${answer ? answer.status : ""}>
      <h2>Answer</h2>
      ${!answer && html`<p class="muted">Run the action to see its answer.</p>`}
      ${answer && html`<p><span class=${`http ${answer.status === 200 ? "ok" : "bad"}`}>HTTP ${answer.status}</span></p>
        <${Json} value=${answer.body} className="output" />`}
      ${answer && answer.body && answer.body.action_id && html`<${AsyncRun} id=${answer.body.action_id} />`}
      <h2>Signature</h2>
      <pre class="code">${sig.sdl}</pre>
    </section>
  </div>`;
}
