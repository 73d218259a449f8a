// The web IDE's one script. Pages are rendered on the server and work to
// read without it; this adds what needs a browser: the code editor, the
// buttons that call the JSON API (/api/v1, the same verbs the CLI uses)
// and the live log. Each part starts from data- attributes of the page.
import { api } from "./api.js";
import { wireDelete, wireNewPipeline } from "./create.js";
import { mountEditors } from "./editor.js";
import { wireNewZone, wireZone } from "./landing.js";
import { wireLineage } from "./lineage.js";
import { wirePipeline } from "./pipeline.js";
import { followRun } from "./run.js";
import { wireSettings } from "./settings.js";
import { wireSharing } from "./sharing.js";
import { wireQuery } from "./query.js";
import { wireNewSchedule, wireSchedules } from "./schedules.js";
import { wireTable } from "./table.js";
import { wireTests } from "./tests.js";
import { wireVersions } from "./versions.js";

function start() {
  const editors = mountEditors(document);
  for (const el of document.querySelectorAll("[data-pipeline]")) {
    wirePipeline(el, editors);
    wireDelete(el);
    const tests = document.querySelector("[data-tests]");
    if (tests) wireTests(tests, editors, el.dataset.pipeline);
    const settings = document.querySelector("form[data-settings]");
    if (settings) wireSettings(settings, editors, el.dataset.language);
    const versions = document.querySelector("[data-versions]");
    if (versions) wireVersions(versions, editors, el.dataset.pipeline, el.dataset.language);
  }
  // Each part of a page, by the element that holds it.
  const parts = [
    ["form[data-new-pipeline]", wireNewPipeline],
    ["[data-run]", followRun],
    ["[data-table]", wireTable],
    ["[data-query]", (el) => wireQuery(el, editors)],
    ["[data-lineage]", wireLineage],
    ["form[data-new-zone]", wireNewZone],
    ["[data-zone]", wireZone],
    ["form[data-new-schedule]", wireNewSchedule],
    ["[data-schedules]", wireSchedules],
    ["[data-sharing]", wireSharing],
  ];
  for (const [selector, wire] of parts) {
    for (const el of document.querySelectorAll(selector)) wire(el);
  }
  // For the browser tests (readyAt: when the page became interactive)
  // and for people poking in the console.
  window.rat = { api, editors, readyAt: performance.now() };
  document.documentElement.dataset.ready = "true";
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
