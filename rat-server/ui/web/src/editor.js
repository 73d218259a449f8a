// The code editor: CodeMirror 6 over each <textarea data-editor="sql|python">,
// kept in sync with it (the form still holds the text). SQL gets its
// Jinja blocks marked, ref('…') completion from the tables the page
// lists, and errors from the server shown at their line. Tab is left to
// move focus (Escape then Tab, as CodeMirror documents), so keyboard users
// are never trapped.
import { basicSetup, EditorView } from "codemirror";
import { sql } from "@codemirror/lang-sql";
import { python } from "@codemirror/lang-python";
import { autocompletion } from "@codemirror/autocomplete";
import { setDiagnostics, lintGutter } from "@codemirror/lint";
import { Decoration, MatchDecorator, ViewPlugin } from "@codemirror/view";

const jinjaMark = Decoration.mark({ class: "cm-jinja" });
const jinjaBlocks = new MatchDecorator({
  regexp: /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g,
  decoration: () => jinjaMark,
});
const jinja = ViewPlugin.define(
  (view) => ({
    decorations: jinjaBlocks.createDeco(view),
    update(u) {
      this.decorations = jinjaBlocks.updateDeco(u, this.decorations);
    },
  }),
  { decorations: (v) => v.decorations },
);

/** Completes the table name inside ref('…') from `tables`. */
function refCompletion(tables) {
  return (context) => {
    const before = context.matchBefore(/ref\(\s*['"][\w.]*/);
    if (!before) return null;
    const quote = before.text.search(/['"]/);
    return {
      from: before.from + quote + 1,
      options: tables.map((t) => ({ label: t, type: "variable", detail: "table" })),
      validFor: /^[\w.]*$/,
    };
  };
}

/** What the editor of `textarea` knows of its language. */
function languageOf(textarea) {
  switch (textarea.dataset.editor) {
    case "python":
      return [python()];
    case "yaml":
      return [];
    case "query":
      // Table names complete from the catalog.
      return [sql({ schema: JSON.parse(textarea.dataset.schema || "{}") })];
    default: {
      const tables = JSON.parse(textarea.dataset.refs || "[]");
      return [sql(), jinja, autocompletion({ override: [refCompletion(tables)] })];
    }
  }
}

/** An editor over `textarea`; its text flows back into the textarea. */
function mount(textarea) {
  const listeners = [];
  const extensions = [
    basicSetup,
    lintGutter(),
    EditorView.updateListener.of((u) => {
      if (!u.docChanged) return;
      textarea.value = u.state.doc.toString();
      for (const listener of listeners) listener(textarea.value);
    }),
    EditorView.contentAttributes.of({
      "aria-label": textarea.getAttribute("aria-label") || "Code",
    }),
    ...languageOf(textarea),
  ];
  const view = new EditorView({ doc: textarea.value, extensions });
  textarea.hidden = true;
  textarea.after(view.dom);
  return {
    view,
    text: () => view.state.doc.toString(),
    /** Calls `listener(text)` after every change of the text. */
    onChange(listener) {
      listeners.push(listener);
    },
    /** Replaces the whole text. */
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    /** Marks line `line` (1-based; absent: the first) with `message`. */
    showError(message, line) {
      const doc = view.state.doc;
      const at = doc.line(Math.min(Math.max(line || 1, 1), doc.lines));
      view.dispatch(
        setDiagnostics(view.state, [
          { from: at.from, to: at.to, severity: "error", message },
        ]),
      );
    },
    clearErrors() {
      view.dispatch(setDiagnostics(view.state, []));
    },
  };
}

/** Editors by the textarea's name, for every editor textarea under `root`. */
export function mountEditors(root) {
  const editors = {};
  for (const textarea of root.querySelectorAll("textarea[data-editor]")) {
    editors[textarea.name] = mount(textarea);
  }
  return editors;
}
