// /governance: each algorithm version's mode per destination, the change form (ai_admin, with a
// reason), and the audit log with its verification (auditor, ai_admin).
import { get, hasRole, send } from "./api.js";
import { frame, say } from "./chrome.js";
import { clear, h, shortUid } from "./dom.js";

const DESTINATIONS = ["api", "webhook", "pacs", "worklist", "report", "hl7"];
const MODES = ["silent", "assistive", "integrated"];

export async function governancePage(root, me) {
  const modes = h("section", { class: "panel", id: "modes" });
  const audit = h("section", { class: "panel", id: "audit" });
  root.replaceChildren(...frame(me, "governance", h("h1", {}, "Governance"), modes, audit));
  await drawModes(modes);
  if (hasRole("auditor", "ai_admin")) await drawAudit(audit);
  else clear(audit, h("h2", {}, "Audit log"), h("p", { class: "note" }, "The audit log needs the role auditor or ai_admin."));
}

async function drawModes(panel) {
  const { items } = await get("/api/algorithms");
  const admin = hasRole("ai_admin");
  const table = h(
    "table",
    { class: "dense modes" },
    h("thead", {}, h("tr", {}, h("th", {}, "Algorithm"), h("th", {}, "Version"), h("th", {}, "Available"), DESTINATIONS.map((d) => h("th", {}, d)))),
    h(
      "tbody",
      {},
      items.map((a) =>
        h(
          "tr",
          { dataset: { algorithm: `${a.id}@${a.version}` } },
          h("td", { title: a.name }, a.id),
          h("td", {}, a.version),
          h("td", {}, a.available ? "yes" : "no"),
          DESTINATIONS.map((d) => {
            const m = a.modes[d];
            return h("td", { title: m ? `${m.changed_by}: ${m.reason}` : "" }, h("span", { class: `mode ${m ? m.mode : "none"}` }, m ? m.mode : "—"));
          }),
        ),
      ),
    ),
  );
  clear(panel, h("h2", {}, "Modes per destination"), table, admin ? changeForm(items, panel) : h("p", { class: "note" }, "Changing a mode needs the role ai_admin."));
}

function changeForm(items, panel) {
  const algorithm = h("select", { id: "mode-algorithm" }, items.map((a) => h("option", { value: `${a.id}@${a.version}` }, `${a.id}@${a.version}`)));
  const destination = h("select", { id: "mode-destination" }, h("option", { value: "*" }, "every destination"), DESTINATIONS.map((d) => h("option", { value: d }, d)));
  const mode = h("select", { id: "mode-mode" }, MODES.map((m) => h("option", { value: m }, m)));
  const reason = h("input", { id: "mode-reason", required: true, minlength: 3, placeholder: "Reason (committee decision, ticket …)" });
  const form = h(
    "form",
    { class: "form inline", id: "mode-form" },
    h("h3", {}, "Change a mode"),
    algorithm,
    destination,
    mode,
    reason,
    h("button", { type: "submit", class: "primary" }, "Change"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [id, version] = algorithm.value.split("@");
    try {
      await send("PUT", `/api/algorithms/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}/modes/${encodeURIComponent(destination.value)}`, {
        mode: mode.value,
        reason: reason.value,
      });
      say(`${algorithm.value} is ${mode.value} at ${destination.value === "*" ? "every destination" : destination.value}`);
      await drawModes(panel);
    } catch (err) {
      say(`Not changed: ${err.message}`, "error");
    }
  });
  return form;
}

async function drawAudit(panel) {
  const verification = await get("/api/audit/verify");
  const events = await get(`/api/audit?after=${Math.max(0, verification.events - 200)}&limit=200`);
  const ok = verification.ok;
  clear(
    panel,
    h("h2", {}, "Audit log ", h("span", { class: `badge ${ok ? "verified" : "broken"}`, id: "audit-verify" }, ok ? `chain verified (${verification.events} events)` : "chain BROKEN")),
    h(
      "table",
      { class: "dense audit" },
      h("thead", {}, h("tr", {}, ["#", "When", "Kind", "Actor", "Study", "Subject"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        (events.items || []).reverse().map((e) =>
          h("tr", {}, h("td", { class: "num" }, e.seq), h("td", {}, e.at), h("td", {}, e.kind), h("td", {}, e.actor), h("td", { class: "uid", title: e.study_instance_uid || "" }, e.study_instance_uid ? shortUid(e.study_instance_uid) : ""), h("td", {}, e.subject || "")),
        ),
      ),
    ),
  );
}
