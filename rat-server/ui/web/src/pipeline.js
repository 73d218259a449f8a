// A pipeline's page: check (compile), preview, save (or save as its
// draft, publish or discard that), and run its code through the API, errors shown at their line in the editor they belong to.
import { api, confirmThen, say } from "./api.js";
import { grid } from "./grid.js";

export function wirePipeline(section, editors) {
  const [namespace, layer, name] = section.dataset.pipeline.split("/");
  const path = `api/v1/pipelines/${namespace}/${layer}/${name}`;
  const language = section.dataset.language;
  const code = editors.code;
  const config = editors.config;
  const region = section.querySelector("[data-result]");
  const output = section.querySelector("[data-output]");
  const compiled = section.querySelector("[data-compiled]");
  const plan = section.querySelector("[data-plan]");
  // What compiling said: the SQL and DuckDB's plan of it.
  const showCompiled = (result) => {
    compiled.textContent = result.compiled_sql || "";
    plan.textContent = result.explain || "(no plan: a Python pipeline's is its code)";
  };
  const editingDraft = "draft" in section.dataset;
  const pipelinePage = `pipelines/${namespace}/${layer}/${name}`;

  // The tests as their editors on this page hold them (a deleted one is
  // gone from the page, so a save removes it too).
  const tests = () =>
    Object.fromEntries(
      Object.entries(editors)
        .filter(([name, editor]) => name.startsWith("test:") && editor.view.dom.isConnected)
        .map(([name, editor]) => [name.slice(5), editor.text()]),
    );
  const files = () => {
    const body = { [language]: code.text(), tests: tests() };
    const configText = config ? config.text() : "";
    body.config = configText.trim() === "" ? null : configText;
    return body;
  };

  const failed = (e) => {
    const file = (e.context && e.context.file) || "";
    const line = Number((e.context && e.context.line) || 0) || undefined;
    const target = file.endsWith("config.yaml") && config ? config : code;
    if (file || line) target.showError(e.message, line);
    // The message names the file and line already.
    say(region, `${e.status ? e.status + ": " : ""}${e.message}`, "error");
  };

  const busy = async (button, work) => {
    for (const b of section.querySelectorAll("[data-action]")) b.disabled = true;
    code.clearErrors();
    if (config) config.clearErrors();
    say(region, `${button.textContent.trim()}…`, "wait");
    try {
      await work();
    } catch (e) {
      failed(e);
    } finally {
      for (const b of section.querySelectorAll("[data-action]")) b.disabled = false;
    }
  };

  const actions = {
    async check() {
      const { tests: _, ...body } = files();
      const result = await api("POST", `${path}/compile`, body);
      showCompiled(result);
      const warnings = result.warnings.length ? ` Warnings: ${result.warnings.join("; ")}` : "";
      say(region, `The code compiles.${warnings}`, "ok");
    },
    async preview() {
      const { tests: _, ...body } = files();
      const result = await api("POST", `${path}/preview`, body);
      grid(output, result.columns, result.rows);
      showCompiled(result);
      const more = result.truncated ? " (more rows not shown)" : "";
      say(region, `Preview: ${result.rows.length} rows${more}.`, "ok");
    },
    // On the draft's page Save keeps it a draft; the published code's
    // page saves the published code.
    async save() {
      const saved = await api("PUT", path, { ...files(), draft: editingDraft });
      const version = saved.version ? ` as version ${saved.version.version}` : "";
      say(region, `Saved${editingDraft ? " the draft" : ""}${version}.`, "ok");
    },
    async draft() {
      await api("PUT", path, { ...files(), draft: true });
      window.location.assign(`${pipelinePage}?draft=true`);
    },
    // What is in the editors is saved to the draft first: what is
    // published is what the user sees.
    async publish() {
      await api("PUT", path, { ...files(), draft: true });
      await api("POST", `${path}/publish`, {});
      window.location.assign(pipelinePage);
    },
    async discard() {
      const dialog = document.querySelector("dialog[data-confirm-discard]");
      confirmThen(dialog, region, async () => {
        await api("DELETE", `${path}/draft`);
        window.location.assign(pipelinePage);
      });
      say(region, "", "");
    },
    async run() {
      const run = await api("POST", "api/v1/runs", {
        pipeline: `${namespace}.${layer}.${name}`,
      });
      window.location.assign(`runs/${run.run_id}`);
    },
  };

  for (const button of section.querySelectorAll("[data-action]")) {
    const action = actions[button.dataset.action];
    button.addEventListener("click", () => busy(button, action));
  }
}
