// The console's component library: preact with hooks, and htm templates (no build step).
import { h, render } from "../vendor/preact.js";
import htm from "../vendor/htm.js";

export { render };
export const html = htm.bind(h);
export {
  useContext,
  useEffect,
  useRef,
  useState,
} from "../vendor/preact-hooks.js";
export { createContext } from "../vendor/preact.js";
