// The console's component library: preact with hooks, and htm templates (no build step).
import { cloneElement, h, render, toChildArray } from "../vendor/preact.js";
import htm from "../vendor/htm.js";

export { cloneElement, render, toChildArray };
export const html = htm.bind(h);
export {
  useContext,
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
} from "../vendor/preact-hooks.js";
export { createContext } from "../vendor/preact.js";
