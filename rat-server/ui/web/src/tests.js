// A pipeline's quality tests on its page: run them now against the table's
// main (results with sample rows), save or delete one, add one.
import { api, say } from "./api.js";
import { grid } from "./grid.js";

export function wireTests(section, editors, pipeline) {
  const path = `api/v1/pipelines/${pipeline}/tests`;
  const region = section.querySelector("[data-tests-result]");
  const output = section.querySelector("[data-tests-output]");
  const failed = (e) => say(region, `${e.status}: ${e.message}`, "error");

  section.querySelector("[data-run-tests]").addEventListener("click", async () => {
    say(region, "Running the tests…", "wait");
    try {
      const report = await api("POST", `${path}/run`, {});
      output.replaceChildren(
        ...report.results.map((r) => {
          const block = document.createElement("div");
          block.className = "test-result";
          const head = document.createElement("p");
          head.innerHTML = "<strong></strong> <span></span> ";
          head.querySelector("strong").textContent = r.name;
          const outcome = head.querySelector("span");
          outcome.className = `status status-${r.outcome === "passed" ? "success" : "failed"}`;
          outcome.textContent = r.outcome;
          head.append(`${r.severity}, ${r.violations} violating rows${r.message ? `: ${r.message}` : ""}`);
          block.append(head);
          if (r.sample && r.sample.rows.length) {
            const rows = document.createElement("div");
            grid(rows, r.sample.columns, r.sample.rows);
            block.append(rows);
          }
          return block;
        }),
      );
      const verdict = report.passed ? "a run would publish" : "an error test failed: a run would not publish";
      say(region, `${report.results.length} tests in ${report.millis} ms; ${verdict}.`, report.passed ? "ok" : "error");
    } catch (e) {
      failed(e);
    }
  });

  for (const test of section.querySelectorAll("[data-test]")) {
    const name = test.dataset.test;
    test.querySelector("[data-save-test]").addEventListener("click", async () => {
      try {
        await api("PUT", `${path}/${name}`, { sql: editors[`test:${name}`].text() });
        say(region, `Saved test ${name}.`, "ok");
      } catch (e) {
        failed(e);
      }
    });
    test.querySelector("[data-delete-test]").addEventListener("click", async () => {
      try {
        await api("DELETE", `${path}/${name}`);
        test.remove();
        say(region, `Deleted test ${name}.`, "ok");
      } catch (e) {
        failed(e);
      }
    });
  }

  const form = section.querySelector("form[data-new-test]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", path, { name: form.elements.name.value, sql: form.elements.sql.value });
      window.location.reload();
    } catch (e) {
      failed(e);
    }
  });
}
