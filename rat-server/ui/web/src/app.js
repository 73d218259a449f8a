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
    const versions = document.querySelector("[data-versions]");
    if (versions) wireVersions(versions, editors, el.dataset.pipeline, el.dataset.language);
  }
  for (const el of document.querySelectorAll("form[data-new-pipeline]")) {
    wireNewPipeline(el);
  }
  for (const el of document.querySelectorAll("[data-run]")) {
    followRun(el);
  }
  for (const el of document.querySelectorAll("[data-table]")) {
    wireTable(el);
  }
  for (const el of document.querySelectorAll("[data-query]")) {
    wireQuery(el, editors);
  }
  for (const el of document.querySelectorAll("[data-lineage]")) {
    wireLineage(el);
  }
  for (const el of document.querySelectorAll("form[data-new-zone]")) {
    wireNewZone(el);
  }
  for (const el of document.querySelectorAll("[data-zone]")) {
    wireZone(el);
  }
  for (const el of document.querySelectorAll("form[data-new-schedule]")) {
    wireNewSchedule(el);
  }
  for (const el of document.querySelectorAll("[data-schedules]")) {
    wireSchedules(el);
  }
  // For the browser tests and for people poking in the console.
  // When the page became interactive, for the browser tests' timing.
  window.rat = { api, editors, readyAt: performance.now() };
  document.documentElement.dataset.ready = "true";
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
