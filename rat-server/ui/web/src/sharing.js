// Sharing, on Settings and on a table's page: a dialog that shares a table or a pattern
// (POST /api/v1/sharing) and stays open with the server's refusal until
// it says yes; a confirmation before a grant is revoked (DELETE). The
// page is rendered again after each, from the server's grants.
import { api, confirmThen, say } from "./api.js";

export function wireSharing(section) {
  const region = section.querySelector("[data-sharing-result]");
  const dialog = document.querySelector("dialog[data-share-dialog]");
  const open = section.querySelector("[data-share]");
  if (open && dialog) {
    const form = dialog.querySelector("form[data-share-form]");
    const error = dialog.querySelector("[data-share-error]");
    open.addEventListener("click", () => {
      error.textContent = "";
      form.reset();
      // A table's own page offers that table.
      if (open.dataset.object) form.elements.object.value = open.dataset.object;
      dialog.showModal();
    });
    form.addEventListener("submit", async (event) => {
      // Cancel closes the dialog as a dialog form does.
      if (event.submitter && event.submitter.value === "cancel") return;
      event.preventDefault();
      const data = new FormData(form);
      error.textContent = "";
      try {
        const grant = await api("POST", "api/v1/sharing", {
          object: data.get("object").trim(),
          grantee: data.get("grantee").trim(),
          level: data.get("level"),
        });
        // Settings lists the grants: show it again; elsewhere say it.
        if (section.dataset.sharing === "list") {
          window.location.reload();
        } else {
          dialog.close();
          say(region, `Shared ${grant.object} with ${grant.grantee} (${grant.level}).`, "ok");
        }
      } catch (e) {
        error.textContent = `${e.status}: ${e.message}`;
      }
    });
  }
  const confirm = document.querySelector("dialog[data-confirm-revoke]");
  for (const button of section.querySelectorAll("[data-revoke]")) {
    button.addEventListener("click", () => {
      confirm.querySelector("[data-revoke-what]").textContent = button.getAttribute("aria-label");
      confirmThen(confirm, region, async () => {
        await api("DELETE", `api/v1/sharing/${encodeURIComponent(button.dataset.revoke)}`);
        window.location.reload();
      });
    });
  }
}
