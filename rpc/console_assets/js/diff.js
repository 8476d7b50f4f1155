// A line diff of two JSON values (longest common subsequence over their pretty-printed lines).
import { html } from "./lib.js";

export function lineDiff(before, after) {
  const a = before === undefined ? [] : JSON.stringify(before, null, 2).split("\n");
  const b = after === undefined ? [] : JSON.stringify(after, null, 2).split("\n");
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const lines = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) lines.push([" ", a[i++], j++]);
    else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) lines.push(["+", b[j++]]);
    else lines.push(["-", a[i++]]);
  }
  return lines;
}

export function Diff({ before, after }) {
  return html`<pre class="diff">${lineDiff(before, after).map(
    ([sign, text]) => html`<span class=${sign === "+" ? "add" : sign === "-" ? "del" : ""}>${sign} ${text}\n</span>`,
  )}</pre>`;
}
