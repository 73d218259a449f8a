// Landing zones: a new zone (POST /api/v1/landing-zones), and a zone's
// page — files dropped (or chosen) are uploaded as one multipart request
// with its progress shown (XMLHttpRequest: fetch cannot report upload
// progress), then the page shows them; a file's first rows on demand.
import { api, csrfToken, parseJson, say } from "./api.js";
import { grid } from "./grid.js";

export function wireNewZone(form) {
  const region = form.querySelector("[data-result]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { namespace: data.get("namespace"), name: data.get("name") };
    if (data.get("description")) body.description = data.get("description");
    try {
      await api("POST", "api/v1/landing-zones", body);
      window.location.assign(`landing/${body.namespace}/${body.name}`);
    } catch (e) {
      say(region, `${e.status}: ${e.message}`, "error");
    }
  });
}

/** Sends `files` to `url`; resolves with the answer, reports progress. */
function upload(url, files, onProgress) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const file of files) body.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    const token = csrfToken();
    if (token) xhr.setRequestHeader("x-csrf-token", token);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let answer = null;
      try {
        answer = parseJson(xhr.responseText);
      } catch {
        answer = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(answer);
      else reject({ status: xhr.status, message: answer?.error?.message || xhr.statusText });
    });
    xhr.addEventListener("error", () => reject({ status: 0, message: "the server did not answer" }));
    xhr.send(body);
  });
}

export function wireZone(section) {
  const path = `api/v1/landing-zones/${section.dataset.zone}`;
  const drop = section.querySelector("[data-drop]");
  const picker = section.querySelector("[data-picker]");
  const progress = section.querySelector("[data-progress]");
  const region = section.querySelector("[data-result]");
  const output = section.querySelector("[data-output]");

  const send = async (files) => {
    if (!files.length) return;
    progress.hidden = false;
    progress.value = 0;
    say(region, `Uploading ${files.length} file(s)…`, "wait");
    try {
      const done = await upload(`${path}/files`, files, (part) => {
        progress.value = Math.round(part * 100);
      });
      progress.value = 100;
      say(region, `Uploaded ${done.files.map((f) => f.name).join(", ")}.`, "ok");
      window.location.reload();
    } catch (e) {
      say(region, `${e.status}: ${e.message}`, "error");
    }
  };

  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    send([...e.dataTransfer.files]);
  });
  drop.addEventListener("click", () => picker.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      picker.click();
    }
  });
  picker.addEventListener("change", () => send([...picker.files]));

  for (const button of section.querySelectorAll("[data-preview]")) {
    button.addEventListener("click", async () => {
      const name = button.dataset.preview;
      try {
        const rows = await api("GET", `${path}/files/${encodeURIComponent(name)}/preview`);
        grid(output, rows.columns, rows.rows);
        say(region, `${name}: the first ${rows.rows.length} rows.`, "ok");
      } catch (e) {
        say(region, `${e.status}: ${e.message}`, "error");
      }
    });
  }
}
