// The new pipeline form: the starter code of the language and strategy
// chosen (rendered by the server from the platform's starters), created
// through POST /api/v1/pipelines, then its page.
import { api, confirmThen, say } from "./api.js";

export function wireNewPipeline(form) {
  const starters = JSON.parse(form.dataset.starters || "{}");
  const region = form.querySelector("[data-result]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const [namespace, layer, name] = ["namespace", "layer", "name"].map((k) => data.get(k));
    const language = data.get("language");
    const code = starters[`${language}/${data.get("strategy")}`];
    say(region, "Creating…", "wait");
    try {
      await api("POST", "api/v1/pipelines", { namespace, layer, name, [language]: code });
      window.location.assign(`pipelines/${namespace}/${layer}/${name}`);
    } catch (e) {
      say(region, `${e.status}: ${e.message}`, "error");
    }
  });
}

/** The Delete button of a pipeline's page, after a confirmation. */
export function wireDelete(section) {
  const button = section.querySelector("[data-delete]");
  const dialog = document.querySelector("dialog[data-confirm-delete]");
  if (!button || !dialog) return;
  const region = section.querySelector("[data-result]");
  button.addEventListener("click", () =>
    confirmThen(dialog, region, async () => {
      await api("DELETE", `api/v1/pipelines/${section.dataset.pipeline}`);
      window.location.assign("pipelines");
    }),
  );
}
