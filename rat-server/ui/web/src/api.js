// Calls to the JSON API with the session cookie the browser sends on its
// own, repeating the CSRF token on changes (the server refuses a change
// the cookie alone carries). Paths are relative to the page's <base>, so
// the UI works under a path prefix. Integers beyond 2^53 (snapshot ids,
// BIGINT values) stay exact: they are read as BigInt and written back as
// JSON numbers.
import { bigints } from "./grid.js";

/** JSON.parse keeping integers exact (BigInt when a number cannot). */
export function parseJson(text) {
  return JSON.parse(text, (_key, value, context) =>
    typeof value === "number" &&
    !Number.isSafeInteger(value) &&
    context &&
    /^-?\d+$/.test(context.source)
      ? BigInt(context.source)
      : value,
  );
}

/** The CSRF token of this session, from the readable rat_csrf cookie. */
export function csrfToken() {
  const found = document.cookie.match(/(?:^|;\s*)rat_csrf=([^;]*)/);
  return found ? decodeURIComponent(found[1]) : null;
}

/** An error of the API: status (0: no answer), message, context. */
export class ApiError extends Error {
  constructor(status, message, context) {
    super(message);
    this.status = status;
    this.context = context || {};
  }
}

/** `method path` with a JSON body; the JSON answer, or an ApiError. */
export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const token = csrfToken();
  if (token && method !== "GET") headers["x-csrf-token"] = token;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body, bigints),
    });
  } catch (e) {
    throw new ApiError(0, `the server did not answer (${e.message})`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? parseJson(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = (json && json.error) || {};
    throw new ApiError(
      response.status,
      error.message || text || response.statusText,
      error.context,
    );
  }
  return json;
}

/** `text` as the message of `region` (an ARIA live region). */
export function say(region, text, kind) {
  region.textContent = text;
  region.className = `message ${kind || ""}`.trim();
}

/** Opens the confirmation `dialog`; runs `work` only if it is confirmed
 *  (its "confirm" button), showing a failure in `region`. */
export function confirmThen(dialog, region, work) {
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener(
    "close",
    async () => {
      if (dialog.returnValue !== "confirm") return;
      try {
        await work();
      } catch (e) {
        say(region, `${e.status}: ${e.message}`, "error");
      }
    },
    { once: true },
  );
}

/** Offers `text` to the browser as a file `name` of type `type`. */
export function saveFile(name, text, type) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  URL.revokeObjectURL(a.href);
}
