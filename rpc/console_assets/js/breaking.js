// Changes checked before they are saved: a dry run first (the envelope's `dry_run`: validated
// and applied to a draft exactly as for real, nothing saved). When it would break a role's
// GraphQL schema, the person sees what breaks, for which role, and is asked before it is saved.
// The save then carries the dry run's resource_version, so what is saved is exactly what was
// shown: a change someone else saved in between is a 409, never a surprise.
import { query } from "./api.js";
import { html, useState } from "./lib.js";
import { Confirm } from "./ui.js";

// The breaking changes of a dry run ({role, type, description}), role by role.
export function BreakingList({ breaking }) {
  const roles = new Map();
  for (const change of breaking) roles.set(change.role, [...(roles.get(change.role) || []), change]);
  return html`<div class="breaking" data-breaking>
    ${[...roles].map(
      ([role, changes]) => html`<section data-role=${role}>
        <h3>Role <span class="tag role">${role}</span></h3>
        <ul>${changes.map((c) => html`<li><code>${c.type}</code> ${c.description}</li>`)}</ul>
      </section>`,
    )}
  </div>`;
}

// What the dialog asks: how many roles' clients a change breaks.
export function breakingMessage(breaking, what = "This change") {
  const roles = new Set(breaking.map((c) => c.role)).size;
  return `${what} breaks the GraphQL schema of ${roles} role${roles === 1 ? "" : "s"}: clients built against it may fail. Save it anyway?`;
}

// [save, dialog]: `save(type, args, options)` previews the change, asks (rendering `dialog`)
// when it breaks a role's schema, then saves it; it resolves to the save's answer, or to null
// when the person chose not to save, and rejects with the refusal, as `query` does.
export function useCheckedSave() {
  const [asking, setAsking] = useState(null);
  const save = async (type, args, options = {}) => {
    const preview = await query(type, args, { ...options, dry_run: true });
    const breaking = preview.graphql.breaking;
    if (breaking.length) {
      const go = await new Promise((resolve) => setAsking({ breaking, resolve }));
      setAsking(null);
      if (!go) return null;
    }
    return query(type, args, { ...options, resource_version: preview.resource_version });
  };
  const dialog =
    asking &&
    html`<${Confirm} message=${breakingMessage(asking.breaking)} confirmLabel="Save anyway"
      onConfirm=${() => asking.resolve(true)} onCancel=${() => asking.resolve(false)}>
      <${BreakingList} breaking=${asking.breaking} />
    <//>`;
  return [save, dialog];
}
