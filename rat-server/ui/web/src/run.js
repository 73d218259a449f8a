// A run's page: its log as it is written (Server-Sent Events, which carry
// the session cookie), kept scrolled to the end until the reader scrolls
// up; filtered by level and text; downloadable; its status, phase
// timeline and quality results rendered again as it moves and when it
// ends; cancel.
import { api, parseJson, saveFile, say } from "./api.js";

const LEVELS = ["debug", "info", "warn", "error"];

/** A function that renders the page's live parts (`data-live`: status,
 *  error, phase timeline, quality results) again from the server: one
 *  request at a time, the calls made meanwhile answered by one more. */
function liveParts(section) {
  let inFlight = null;
  let again = false;
  const renderOnce = async () => {
    const response = await fetch(window.location.href, {
      headers: { accept: "text/html" },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of section.querySelectorAll("[data-live]")) {
      const next = fresh.querySelector(`[data-live="${part.dataset.live}"]`);
      if (next) part.replaceWith(document.importNode(next, true));
    }
  };
  return () => {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        do {
          again = false;
          await renderOnce();
        } while (again);
      } catch {
        // Out of reach: the log's reconnect message says so.
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  };
}

export function followRun(section) {
  const id = section.dataset.run;
  const log = section.querySelector("[data-log]");
  const refresh = liveParts(section);
  const region = section.querySelector("[data-result]");
  const level = section.querySelector("[data-level]");
  const search = section.querySelector("[data-search]");
  const cancel = section.querySelector("[data-cancel]");
  const download = section.querySelector("[data-download]");
  const lines = [];
  let stick = true;

  // Following stops once the reader scrolls away from the end.
  log.addEventListener("scroll", () => {
    stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  });

  const shown = (line) => {
    const minimum = LEVELS.indexOf(level ? level.value : "debug");
    const words = search ? search.value.trim().toLowerCase() : "";
    return (
      LEVELS.indexOf(line.level) >= minimum &&
      (!words || line.message.toLowerCase().includes(words))
    );
  };

  const row = (line) => {
    const li = document.createElement("li");
    li.className = `log-${line.level}`;
    const time = document.createElement("time");
    time.textContent = (line.at || "").slice(11, 23);
    const lvl = document.createElement("span");
    lvl.className = "level";
    lvl.textContent = line.level.toUpperCase();
    const text = document.createElement("span");
    text.textContent = line.message;
    li.append(time, " ", lvl, " ", text);
    li.hidden = !shown(line);
    return li;
  };

  const refilter = () => {
    log.querySelectorAll("li").forEach((li, i) => {
      li.hidden = !shown(lines[i]);
    });
  };
  if (level) level.addEventListener("change", refilter);
  if (search) search.addEventListener("input", refilter);

  if (download) {
    download.addEventListener("click", () => {
      const text = lines
        .map((l) => `${l.at} ${l.level.toUpperCase()} ${l.message}`)
        .join("\n");
      saveFile(`run-${id}.log`, `${text}\n`, "text/plain");
    });
  }

  if (cancel) {
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await api("POST", `api/v1/runs/${id}/cancel`);
        say(region, "Cancel requested.", "wait");
      } catch (e) {
        say(region, `${e.status}: ${e.message}`, "error");
        cancel.disabled = false;
      }
    });
  }

  const events = new EventSource(`api/v1/runs/${id}/logs`);
  // Each line is the run moving on: the timeline and status follow.
  events.addEventListener("log", (event) => {
    const line = parseJson(event.data);
    lines.push(line);
    log.append(row(line));
    if (stick) log.scrollTop = log.scrollHeight;
    refresh();
  });
  events.addEventListener("end", async (event) => {
    events.close();
    const record = parseJson(event.data);
    const ended = record.status || "unknown";
    if (cancel) cancel.hidden = true;
    await refresh();
    const status = section.querySelector("[data-status]");
    status.textContent = ended;
    status.className = `status status-${ended}`;
    const why = record.error ? `: ${record.error.message}` : "";
    say(region, `The run ended: ${ended}${why}.`, ended === "success" ? "ok" : "error");
    section.dataset.ended = ended;
  });
  events.onerror = () => {
    // The browser reconnects on its own (from the last line it saw);
    // say so while it does.
    if (events.readyState === EventSource.CONNECTING) {
      say(region, "The connection to the server was lost; reconnecting…", "wait");
    }
  };
}
