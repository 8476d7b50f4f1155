// GraphiQL on /v1/graphql, as Hasura's console has it: the signed-in credentials and a chosen
// role go with every request (so the schema and its explorer are that role's), subscriptions
// go over a websocket in the graphql-transport-ws protocol, and "Try in GraphiQL" on an action's
// page opens it with a ready operation for that action. graphiql's browser build (with React's)
// is loaded by this page only, the first time it opens.
import { credentialHeaders, query } from "./api.js";
import { html, useEffect, useRef, useState } from "./lib.js";
import { ErrorBanner, Field, Page, useLoad } from "./ui.js";
import { parseType, typeIndex } from "./input_fields.js";

const SCRIPTS = ["react.js", "react-dom.js", "graphiql.js"];
let loading = null;

function script(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`${src} could not be loaded`));
    document.head.appendChild(el);
  });
}

// graphiql's build needs React and ReactDOM as globals: loaded in order, once.
function loadGraphiQL() {
  if (!loading) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "/console/vendor/graphiql.css";
    document.head.appendChild(css);
    loading = SCRIPTS.reduce((done, file) => done.then(() => script(`/console/vendor/${file}`)), Promise.resolve()).then(
      () => window.GraphiQL,
    );
    loading.catch(() => (loading = null));
  }
  return loading;
}

// The operation GraphiQL is asked to run: a subscription, or a query or mutation?
export function isSubscription(params, documentAST) {
  const operations = ((documentAST && documentAST.definitions) || []).filter((d) => d.kind === "OperationDefinition");
  const chosen = operations.find((d) => d.name && d.name.value === params.operationName) || operations[0];
  if (chosen) return chosen.operation === "subscription";
  return /^\s*subscription\b/.test(params.query || "");
}

// One subscription over its own websocket (graphql-transport-ws): connection_init with the
// credentials as payload.headers, subscribe, then each `next` until `complete` or `error`.
function subscribe(params, headers) {
  return {
    [Symbol.asyncIterator]() {
      const queue = [];
      let waiting = null;
      let done = false;
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${window.location.host}/v1/graphql`, "graphql-transport-ws");
      const push = (item) => {
        if (waiting) {
          const resolve = waiting;
          waiting = null;
          resolve(item);
        } else queue.push(item);
      };
      const finish = () => {
        if (done) return;
        done = true;
        push({ value: undefined, done: true });
        if (socket.readyState <= 1) socket.close(1000);
      };
      const send = (message) => socket.send(JSON.stringify(message));
      socket.onopen = () => send({ type: "connection_init", payload: { headers } });
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "connection_ack") send({ id: "1", type: "subscribe", payload: params });
        else if (message.type === "ping") send({ type: "pong" });
        else if (message.type === "next") push({ value: message.payload, done: false });
        else if (message.type === "error") {
          push({ value: { errors: message.payload }, done: false });
          finish();
        } else if (message.type === "complete") finish();
      };
      socket.onclose = (event) => {
        if (!done && event.code !== 1000) {
          const reason = event.reason ? `: ${event.reason}` : "";
          push({ value: { errors: [{ message: `the connection closed (${event.code}${reason})` }] }, done: false });
        }
        finish();
      };
      return {
        next: () => (queue.length ? Promise.resolve(queue.shift()) : done ? Promise.resolve({ value: undefined, done: true }) : new Promise((r) => (waiting = r))),
        return: () => {
          if (!done && socket.readyState === 1) send({ id: "1", type: "complete" });
          finish();
          return Promise.resolve({ value: undefined, done: true });
        },
      };
    },
  };
}

// GraphiQL's fetcher as `role`: queries and mutations are a POST, subscriptions a websocket.
export function fetcherAs(role) {
  const headers = credentialHeaders(role === "admin" ? undefined : role);
  const { "content-type": _, ...socketHeaders } = headers;
  return (params, options) => {
    if (isSubscription(params, options && options.documentAST)) return subscribe(params, socketHeaders);
    return fetch("/v1/graphql", { method: "POST", headers, body: JSON.stringify(params) }).then((r) => r.json());
  };
}

// Kept for this page only: GraphiQL's tabs and history do not outlive it.
function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
    clear: () => items.clear(),
    get length() {
      return items.size;
    },
  };
}

const EXAMPLE = { Int: 1, Float: 1.5, Boolean: true, String: "", ID: "1" };

function example(type, types, depth = 0) {
  if (type.list) return [];
  const object = types.input_objects[type.name];
  if (object && depth < 3) {
    const out = {};
    for (const f of object.fields) {
      const t = parseType(f.type);
      if (!t.nullable) out[f.name] = example(t, types, depth + 1);
    }
    return out;
  }
  const enumType = types.enums[type.name];
  if (enumType) return enumType.values[0].value;
  return type.name in EXAMPLE ? EXAMPLE[type.name] : "";
}

// The selection of an output type: its scalar and enum fields, its objects' a level or two down.
function selection(typeName, objects, depth = 0) {
  const object = objects[typeName];
  if (!object) return "";
  const pad = "  ".repeat(depth + 2);
  const lines = [];
  for (const f of object.fields) {
    const base = parseType(f.type);
    let inner = base;
    while (inner.list) inner = inner.list;
    if (objects[inner.name]) {
      if (depth < 1) lines.push(`${pad}${f.name} ${selection(inner.name, objects, depth + 1)}`);
    } else lines.push(`${pad}${f.name}`);
  }
  return `{\n${lines.join("\n")}\n${"  ".repeat(depth + 1)}}`;
}

// A ready operation for an action: its field with every argument as a variable, the output's
// fields selected; for an asynchronous action, the subscription to its result as well.
export function operationFor(sig) {
  if (!sig.output_type) return { query: `# ${sig.name} has no output type, so it is no GraphQL field: run it from its page.\n`, variables: "" };
  const types = typeIndex(sig.types);
  const objects = Object.fromEntries((sig.types.objects || []).map((t) => [t.name, t]));
  const declared = sig.arguments.map((a) => `$${a.name}: ${a.type}`).join(", ");
  const passed = sig.arguments.map((a) => `${a.name}: $${a.name}`).join(", ");
  const variables = Object.fromEntries(sig.arguments.map((a) => [a.name, example(parseType(a.type), types)]));
  const operation = sig.type === "query" ? "query" : "mutation";
  let output = parseType(sig.output_type);
  while (output.list) output = output.list;
  const async = sig.kind === "asynchronous" && sig.type !== "query";
  const picked = async ? "" : ` ${selection(output.name, objects)}`.trimEnd();
  let text = `${operation} ${sig.name}${declared ? `(${declared})` : ""} {\n  ${sig.name}${passed ? `(${passed})` : ""}${picked}\n}\n`;
  if (async) {
    const result = objects[output.name] ? ` ${selection(output.name, objects, 1)}` : "";
    text += `\n# ${sig.name} is asynchronous: the mutation answers the run's id. With that id as the variables\n`;
    text += `# ({"id": "..."}), this subscription pushes the run's result when it finishes.\n`;
    text += `subscription ${sig.name}_result($id: uuid!) {\n  ${sig.name}(id: $id) {\n    id\n    created_at\n    errors\n    output${result}\n  }\n}\n`;
  }
  return { query: text, variables: Object.keys(variables).length ? JSON.stringify(variables, null, 2) : "" };
}

// What graphiql's own markup leaves unnamed, named: its editors' textareas (CodeMirror's), and
// their scrolling areas, reachable by keyboard.
const EDITORS = [
  [".graphiql-query-editor", "GraphQL operation"],
  [".graphiql-editor-tool", "Variables (JSON)"],
  [".result-window", "Result"],
];

function nameEditors(root) {
  for (const [where, name] of EDITORS)
    for (const area of root.querySelectorAll(`${where} textarea`)) if (!area.getAttribute("aria-label")) area.setAttribute("aria-label", name);
  for (const scroll of root.querySelectorAll(".CodeMirror-scroll")) if (scroll.getAttribute("tabindex") !== "0") scroll.setAttribute("tabindex", "0");
}

function hashParams() {
  const [, search = ""] = window.location.hash.split("?");
  return new URLSearchParams(search);
}

export function GraphiQLPage() {
  const params = hashParams();
  const action = params.get("action") || "";
  const [role, setRole] = useState(params.get("role") || "admin");
  const roles = useLoad(() => query("list_roles"), []);
  const initial = useLoad(
    () => (action ? query("get_action_signature", { name: action }).then(operationFor) : Promise.resolve(null)),
    [action],
  );
  const host = useRef(null);
  const edited = useRef(null);
  const [shown, setShown] = useState(false);
  const [error, setError] = useState(null);

  useEffect(() => {
    if (initial.loading) return undefined;
    let live = true;
    let root = null;
    let observer = null;
    loadGraphiQL().then(
      (GraphiQL) => {
        if (!live) return;
        const start = edited.current || initial.data || {};
        root = window.ReactDOM.createRoot(host.current);
        root.render(
          window.React.createElement(GraphiQL, {
            fetcher: fetcherAs(role),
            storage: memoryStorage(),
            query: start.query,
            variables: start.variables,
            defaultEditorToolsVisibility: start.variables ? "variables" : false,
            isHeadersEditorEnabled: false,
            forcedTheme: "light",
            onEditQuery: (text) => (edited.current = { ...(edited.current || start), query: text }),
            onEditVariables: (text) => (edited.current = { ...(edited.current || start), variables: text }),
          }),
        );
        observer = new MutationObserver(() => nameEditors(host.current));
        observer.observe(host.current, { childList: true, subtree: true });
        nameEditors(host.current);
        setShown(true);
      },
      (exc) => live && setError({ message: exc.message, code: "unexpected" }),
    );
    return () => {
      live = false;
      if (observer) observer.disconnect();
      if (root) root.unmount();
    };
  }, [role, initial.loading]);

  const names = ["admin", ...((roles.data && roles.data.roles) || []).map((r) => r.name)];
  return html`<${Page} name="graphiql" title="GraphiQL" ready=${shown}
    tools=${html`<${Field} label="Role" path="$role" className="inline-field">
      <select name="graphiql_role" value=${role} onChange=${(e) => setRole(e.target.value)}>
        ${[...new Set([...names, role])].map((r) => html`<option value=${r}>${r}</option>`)}
      </select>
    <//>`}>
    <p class="muted">Requests go to <code>/v1/graphql</code> with your credentials${role === "admin" ? "" : html` as the role <strong>${role}</strong>`}: the schema and its explorer are what that role may run.</p>
    <${ErrorBanner} error=${initial.error || error} />
    <div class="graphiql-host" ref=${host}></div>
  <//>`;
}
