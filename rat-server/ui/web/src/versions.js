// A pipeline's versions: compare one with the code in the editor (a line
// diff), roll back to one after a confirmation (a new version).
import { api, confirmThen, say } from "./api.js";

/** The lines of `before` and `after` as a diff: [kind, line] with kind
 *  "same", "del" or "add" (longest common subsequence; fine for the
 *  sizes of pipeline code). */
export function diffLines(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(["same", a[i++]]);
      j++;
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out.push(["add", b[j++]]);
    } else {
      out.push(["del", a[i++]]);
    }
  }
  return out;
}

export function wireVersions(section, editors, pipeline, language) {
  const path = `api/v1/pipelines/${pipeline}/versions`;
  const region = section.querySelector("[data-versions-result]");
  const output = section.querySelector("[data-diff-output]");
  for (const button of section.querySelectorAll("[data-diff]")) {
    button.addEventListener("click", async () => {
      const version = button.dataset.diff;
      try {
        const old = await api("GET", `${path}/${version}`);
        const before = old.files[language] || old.files.sql || old.files.python || "";
        const lines = diffLines(before, editors.code.text());
        output.replaceChildren(
          ...lines.map(([kind, text]) => {
            const span = document.createElement("span");
            span.className = kind;
            span.textContent = text;
            return span;
          }),
        );
        output.hidden = false;
        const changed = lines.filter(([k]) => k !== "same").length;
        say(region, `Version ${version} against the editor: ${changed} lines differ.`, "ok");
      } catch (e) {
        say(region, `${e.status}: ${e.message}`, "error");
      }
    });
  }
  const dialog = document.querySelector("dialog[data-confirm-restore]");
  for (const button of section.querySelectorAll("[data-restore]")) {
    button.addEventListener("click", () => {
      const version = button.dataset.restore;
      dialog.querySelector("[data-restore-version]").textContent = version;
      confirmThen(dialog, region, async () => {
        await api("POST", `${path}/${version}/rollback`, {});
        window.location.reload();
      });
    });
  }
}
