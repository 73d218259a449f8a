// A pipeline's settings as a form over its config.yaml: a field's change
// rewrites that key in the YAML (comments and other keys kept), a change
// of the YAML fills the form again. A key an annotation in the code sets
// (`-- @key: value`, which wins over config.yaml) is shown as the code's
// and cannot be changed here.
import { isMap, parseDocument } from "yaml";

/** How each key's YAML value shows in its field, and back. */
const text = {
  show: (v) => (v === undefined || v === null ? "" : String(v)),
  parse: (s) => s.trim() || undefined,
};
const columns = {
  show: (v) => (Array.isArray(v) ? v.join(", ") : text.show(v)),
  parse: (s) => {
    const list = s.split(",").map((c) => c.trim()).filter(Boolean);
    return list.length > 1 ? list : list[0];
  },
};
// `day(order_date), bucket[16](customer_id), region`: the Iceberg
// notation of partition_by's {column, transform} entries.
const partitions = {
  show: (v) =>
    (Array.isArray(v) ? v : [])
      .map((p) => (!p.transform || p.transform === "identity" ? p.column : `${p.transform}(${p.column})`))
      .join(", "),
  parse: (s) => {
    const entries = s.split(/,(?![^[]*\])/).map((p) => p.trim()).filter(Boolean);
    if (entries.length === 0) return undefined;
    return entries.map((entry) => {
      const m = entry.match(/^(?:([a-z]+(?:\[\s*\d+\s*\])?)\(\s*(\w+)\s*\)|(\w+))$/);
      if (!m) throw new Error(`'${entry}' is not column or transform(column), as day(order_date)`);
      return m[3] ? { column: m[3], transform: "identity" } : { column: m[2], transform: m[1].replace(/\s/g, "") };
    });
  },
};
const FIELDS = {
  merge_strategy: text,
  unique_key: columns,
  watermark_column: text,
  partition_column: text,
  partition_by: partitions,
  scd_valid_from: text,
  scd_valid_to: text,
  description: text,
};

/** The keys the code's header annotations set, by the rules of
 *  rat-core's parse_annotations: the leading run of blank and comment
 *  lines (`marker`: `--`, or `#` in Python), `@key:` in a comment. */
function annotated(code, marker) {
  const keys = new Set();
  for (const line of code.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (!trimmed.startsWith(marker)) break;
    const m = trimmed.slice(marker.length).trimStart().match(/^@([^:]*):/);
    if (m) keys.add(m[1].trim());
  }
  return keys;
}

export function wireSettings(form, editors, language) {
  const marker = language === "python" ? "#" : "--";
  const yaml = editors.config;
  const code = editors.code;
  if (!yaml || !code) return;
  const note = form.querySelector("[data-settings-note]");
  let writing = false;

  const parsed = () => {
    const doc = parseDocument(yaml.text());
    if (doc.errors.length) throw new Error(`config.yaml: ${doc.errors[0].message.split("\n")[0]}`);
    if (!doc.contents) doc.contents = doc.createNode({});
    if (!isMap(doc.contents)) throw new Error("config.yaml is not a mapping of keys to values");
    return doc;
  };

  const fill = () => {
    let values;
    try {
      values = parsed().toJS();
    } catch (e) {
      note.textContent = `${e.message}. Fix it below to use the form.`;
      return;
    }
    note.textContent = "";
    const fromCode = annotated(code.text(), marker);
    for (const [key, kind] of Object.entries(FIELDS)) {
      const field = form.elements[key];
      const hint = form.querySelector(`[data-annotated="${key}"]`);
      hint.hidden = !fromCode.has(key);
      field.disabled = fromCode.has(key);
      // The code's value is what the server showed; keep it.
      if (fromCode.has(key)) continue;
      const shown = values[key] === undefined ? field.dataset.default || "" : kind.show(values[key]);
      if (field.value !== shown) field.value = shown;
      field.setCustomValidity("");
    }
    form.dataset.strategy = form.elements.merge_strategy.value;
  };

  const write = (key) => {
    const field = form.elements[key];
    let doc;
    let value;
    try {
      doc = parsed();
      value = FIELDS[key].parse(field.value);
      field.setCustomValidity("");
    } catch (e) {
      field.setCustomValidity(e.message);
      note.textContent = e.message;
      return;
    }
    note.textContent = "";
    if (value === undefined || (field.dataset.default && value === field.dataset.default && !doc.has(key))) {
      doc.delete(key);
    } else {
      doc.set(key, value);
    }
    // An error marked in the YAML before is the form's to fix now.
    yaml.clearErrors();
    writing = true;
    yaml.setText(doc.contents.items.length ? String(doc) : "");
    writing = false;
    form.dataset.strategy = form.elements.merge_strategy.value;
  };

  for (const key of Object.keys(FIELDS)) {
    form.elements[key].addEventListener("change", () => write(key));
  }
  form.addEventListener("submit", (e) => e.preventDefault());
  yaml.onChange(() => {
    if (!writing) fill();
  });
  code.onChange(fill);
  fill();
}
