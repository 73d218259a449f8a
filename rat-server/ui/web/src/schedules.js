// Schedules: a new one (cron, with its next firings previewed as it is
// typed, or after an upstream pipeline), pause and resume (the schedule
// saved again with `enabled` flipped), delete.
import { api, say } from "./api.js";

const when = new Intl.DateTimeFormat("en-GB", {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  timeZone: "UTC",
});

/** "in 3 h", "in 2 days": how far `date` is from now. */
function distance(date) {
  const minutes = Math.round((date - Date.now()) / 60000);
  if (minutes < 60) return `in ${Math.max(minutes, 0)} min`;
  if (minutes < 48 * 60) return `in ${Math.round(minutes / 60)} h`;
  return `in ${Math.round(minutes / 1440)} days`;
}

export function wireNewSchedule(form) {
  const region = form.querySelector("[data-result]");
  const preview = form.querySelector("[data-cron-next]");
  const cron = form.elements.cron;
  let asked = 0;

  const showKind = () => {
    const kind = form.elements.kind.value;
    for (const el of form.querySelectorAll("[data-when]")) el.hidden = el.dataset.when !== kind;
  };
  for (const radio of form.elements.kind) radio.addEventListener("change", showKind);

  const previewCron = async () => {
    const mine = ++asked;
    const expression = cron.value.trim();
    if (!expression) return (preview.textContent = "");
    try {
      const next = await api("GET", `api/v1/cron?expression=${encodeURIComponent(expression)}&count=3`);
      if (mine !== asked) return;
      const [first, ...rest] = next.next.map((t) => new Date(t));
      preview.textContent =
        `Next: ${when.format(first)} UTC (${distance(first)}), then ` +
        rest.map((d) => `${when.format(d)}`).join(", ") + ".";
      cron.removeAttribute("aria-invalid");
    } catch (e) {
      if (mine !== asked) return;
      preview.textContent = e.message;
      cron.setAttribute("aria-invalid", "true");
    }
  };
  let timer;
  cron.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(previewCron, 250);
  });
  previewCron();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { pipeline: form.elements.pipeline.value };
    if (form.elements.kind.value === "cron") body.cron = cron.value.trim();
    else body.after = form.elements.after.value;
    try {
      await api("POST", "api/v1/schedules", body);
      window.location.reload();
    } catch (e) {
      say(region, `${e.status}: ${e.message}`, "error");
    }
  });
}

export function wireSchedules(table) {
  const region = document.getElementById("schedules-result");
  for (const row of table.querySelectorAll("[data-schedule]")) {
    const id = row.dataset.schedule;
    const act = async (work) => {
      try {
        await work();
        window.location.reload();
      } catch (e) {
        say(region, `${e.status}: ${e.message}`, "error");
      }
    };
    const toggle = row.querySelector("[data-toggle]");
    if (toggle) {
      toggle.addEventListener("click", () =>
        act(() => {
          const request = JSON.parse(row.dataset.request);
          request.enabled = !request.enabled;
          return api("PUT", `api/v1/schedules/${id}`, request);
        }),
      );
    }
    row.querySelector("[data-remove]").addEventListener("click", () =>
      act(() => api("DELETE", `api/v1/schedules/${id}`)),
    );
  }
}
