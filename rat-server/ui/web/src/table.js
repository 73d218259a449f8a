// A table's page: its rows now or at any earlier snapshot (time travel),
// and rollback to a snapshot after a confirmation.
import { api, confirmThen, say } from "./api.js";
import { grid } from "./grid.js";

export function wireTable(section) {
  const path = `api/v1/tables/${section.dataset.table}`;
  const region = section.querySelector("[data-result]");
  const output = section.querySelector("[data-output]");
  const snapshot = section.querySelector("[data-snapshot]");

  const show = async () => {
    const at = snapshot.value;
    say(region, "Reading…", "wait");
    try {
      const query = at ? `?rows=50&snapshot_id=${at}` : "?rows=50";
      const rows = await api("GET", `${path}/preview${query}`);
      grid(output, rows.columns, rows.rows);
      const which = at ? `snapshot ${at}` : "the current snapshot";
      const more = rows.truncated ? " (the first 50)" : "";
      say(region, `${rows.rows.length} rows of ${which}${more}.`, "ok");
    } catch (e) {
      say(region, `${e.status}: ${e.message}`, "error");
    }
  };
  section.querySelector("[data-show]").addEventListener("click", show);
  snapshot.addEventListener("change", show);
  if (snapshot.options.length > 1) show();

  const dialog = document.querySelector("dialog[data-confirm]");
  for (const button of document.querySelectorAll("[data-rollback]")) {
    button.addEventListener("click", () => {
      const to = button.dataset.rollback;
      dialog.querySelector("[data-confirm-snapshot]").textContent = to;
      confirmThen(dialog, region, async () => {
        await api("POST", `${path}/rollback`, { to: BigInt(to) });
        window.location.reload();
      });
    });
  }
}
