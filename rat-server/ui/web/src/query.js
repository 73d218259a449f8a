// The query console: one read-only SELECT at a time (Ctrl+Enter or the
// button), its rows in a sortable grid with the limits that applied, its
// error marked at its line, CSV export, and the last queries kept in this
// browser (localStorage) to run again.
import { api, saveFile, say } from "./api.js";
import { csv, grid } from "./grid.js";

const HISTORY_KEY = "rat.query.history";
const HISTORY_SIZE = 20;

function history() {
  try {
    return JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
  } catch {
    return [];
  }
}

function remember(sql) {
  const kept = [sql, ...history().filter((q) => q !== sql)].slice(0, HISTORY_SIZE);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(kept));
}

export function wireQuery(section, editors) {
  const editor = editors.sql;
  const region = section.querySelector("[data-result]");
  const output = section.querySelector("[data-output]");
  const limit = section.querySelector("[data-limit]");
  const run = section.querySelector("[data-run-query]");
  const exporter = section.querySelector("[data-export]");
  const past = section.querySelector("[data-history]");
  let last = null;

  const showHistory = () => {
    const items = history().map((sql) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = sql.length > 120 ? `${sql.slice(0, 117)}…` : sql;
      button.title = sql;
      button.addEventListener("click", () => editor.setText(sql));
      li.append(button);
      return li;
    });
    past.replaceChildren(...items);
    if (!items.length) past.innerHTML = '<li class="empty">Queries you run are kept here.</li>';
  };

  const go = async () => {
    const sql = editor.text().trim();
    if (!sql) return say(region, "Write a SELECT first.", "error");
    editor.clearErrors();
    run.disabled = true;
    say(region, "Running…", "wait");
    const started = performance.now();
    try {
      const rows = Number(limit.value);
      const result = await api("POST", "api/v1/query", { sql, limit: rows });
      const millis = Math.round(performance.now() - started);
      grid(output, result.columns, result.rows);
      last = result;
      exporter.disabled = false;
      const cut = result.truncated ? `; more rows exist: the limit is ${rows}` : "";
      say(region, `${result.rows.length} rows in ${millis} ms${cut}.`, "ok");
      remember(sql);
      showHistory();
    } catch (e) {
      const line = Number((e.context && e.context.line) || 0) || undefined;
      if (line) editor.showError(e.message, line);
      say(region, `${e.status ? e.status + ": " : ""}${e.message}`, "error");
    } finally {
      run.disabled = false;
    }
  };

  run.addEventListener("click", go);
  section.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      go();
    }
  });
  exporter.addEventListener("click", () => {
    if (last) saveFile("query.csv", csv(last.columns, last.rows), "text/csv");
  });

  // The schema tree: a table's columns when it is opened.
  for (const details of section.querySelectorAll("details[data-columns]")) {
    details.addEventListener(
      "toggle",
      async () => {
        const list = details.querySelector("ul");
        try {
          const table = await api("GET", `api/v1/tables/${details.dataset.columns}`);
          list.replaceChildren(
            ...table.columns.map((c) => {
              const li = document.createElement("li");
              li.textContent = `${c.name} `;
              const type = document.createElement("span");
              type.className = "count";
              type.textContent = c.type;
              li.append(type);
              return li;
            }),
          );
        } catch (e) {
          list.textContent = `${e.status}: ${e.message}`;
        }
      },
      { once: true },
    );
  }
  showHistory();
}
