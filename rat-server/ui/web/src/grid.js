// Result grids: typed cells (numbers aligned, NULL said as such, integers
// beyond 2^53 exact), sortable by any column from its header (keyboard
// too: the header is a button), sort state told to screen readers.

/** The text and class of one value. */
function shown(value) {
  if (value === null || value === undefined) return ["NULL", "null"];
  if (typeof value === "bigint") return [value.toString(), "num"];
  if (typeof value === "number") return [String(value), "num"];
  if (typeof value === "boolean") return [String(value), "bool"];
  if (typeof value === "object") return [JSON.stringify(value, bigints), ""];
  return [String(value), ""];
}

/** JSON.stringify's replacer for exact big integers. */
export function bigints(_key, value) {
  return typeof value === "bigint" ? JSON.rawJSON(value.toString()) : value;
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1; // NULLs last
  if (b === null || b === undefined) return -1;
  const numeric = (v) => typeof v === "number" || typeof v === "bigint";
  if (numeric(a) && numeric(b)) return a < b ? -1 : 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** A table of `columns` and `rows` in `into`, replacing what was there. */
export function grid(into, columns, rows) {
  const table = document.createElement("table");
  table.className = "grid-result";
  const head = table.createTHead().insertRow();
  const body = table.createTBody();
  let order = rows.map((_, i) => i);
  let sorted = { column: -1, ascending: true };

  const fill = () => {
    const fragment = document.createDocumentFragment();
    for (const i of order) {
      const tr = document.createElement("tr");
      for (const value of rows[i]) {
        const td = document.createElement("td");
        const [text, kind] = shown(value);
        td.textContent = text;
        if (kind) td.className = kind;
        tr.append(td);
      }
      fragment.append(tr);
    }
    body.replaceChildren(fragment);
  };

  columns.forEach((name, c) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.setAttribute("aria-sort", "none");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = name;
    button.addEventListener("click", () => {
      const ascending = sorted.column === c ? !sorted.ascending : true;
      sorted = { column: c, ascending };
      order = rows.map((_, i) => i);
      order.sort((x, y) => compare(rows[x][c], rows[y][c]) * (ascending ? 1 : -1));
      for (const other of head.children) other.setAttribute("aria-sort", "none");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      fill();
    });
    th.append(button);
    head.append(th);
  });
  fill();
  into.replaceChildren(table);
}

/** `columns` and `rows` as CSV (RFC 4180 quoting; NULL as empty). */
export function csv(columns, rows) {
  const field = (v) => {
    if (v === null || v === undefined) return "";
    const text = typeof v === "object" ? JSON.stringify(v, bigints) : String(v);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}
