// Sign-in: what the person types is sent as its method's header, and kept for this tab only.
import { SIGN_IN_METHODS } from "./api.js";
import { html, useState } from "./lib.js";
import { ErrorForm, Field } from "./ui.js";

// What a refused sign-in means, in a sentence (the server's words stay in the details line).
function refusal({ status, body }, method) {
  if (status === 400 && body.code === "access-denied") return "These credentials are not an admin's: the console needs an admin's.";
  if (status === 401 && /expired/.test(body.error || "")) return `This ${method.noun} has expired.`;
  if (status === 401) return `The server does not accept this ${method.noun}.`;
  return null;
}

export function SignIn({ probe, onSignedIn }) {
  const [method, setMethod] = useState(SIGN_IN_METHODS[0].id);
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const chosen = SIGN_IN_METHODS.find((m) => m.id === method);

  const submit = async () => {
    setBusy(true);
    setError(null);
    const credentials = { method, value };
    try {
      const found = await probe(credentials);
      if (found.ok) return onSignedIn(credentials);
      // The server's path for a credential is the envelope's ($): the credential is the field.
      setError({ message: found.body.error, plain: refusal(found, chosen), code: found.body.code, path: "$credential" });
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  return html`<main class="signin" data-page="signin" data-ready="true">
    <h1>Switchboard</h1>
    <p>This server asks for credentials. They are kept in this browser tab only, until you sign out or close it.</p>
    <${ErrorForm} error=${error} onSubmit=${submit}>
      ${SIGN_IN_METHODS.length > 1 &&
      html`<${Field} label="Sign in with" path="$method">
        <select value=${method} onChange=${(e) => setMethod(e.target.value)}>
          ${SIGN_IN_METHODS.map((m) => html`<option value=${m.id}>${m.label}</option>`)}
        </select>
      <//>`}
      <${Field} label=${chosen.label} path="$credential" hint=${`Sent as the ${chosen.header} header`}>
        <input type="password" name="credential" autocomplete="current-password" autofocus
          value=${value} onInput=${(e) => setValue(e.target.value)} />
      <//>
      <button type="submit" class="primary" disabled=${busy || !value}>Sign in</button>
    <//>
  </main>`;
}
