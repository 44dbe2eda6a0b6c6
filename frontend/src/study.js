// /studies/{uid}: the AI results (findings with accept / reject-with-reason, positioning checks),
// the report draft with its category and density, and Confirm for radiologists.
import { get, hasRole, send } from "./api.js";
import { frame, say } from "./chrome.js";
import { clear, h } from "./dom.js";

const REASONS = [
  ["normal_tissue", "Normal tissue"],
  ["benign_finding", "Benign finding"],
  ["artifact", "Artifact"],
  ["known_stable", "Known, stable"],
  ["wrong_location", "Wrong location"],
  ["duplicate", "Duplicate"],
  ["other", "Other"],
];
const KINDS = { calcification_cluster: "calc. cluster", architectural_distortion: "distortion" };
const BIRADS = ["0", "1", "2", "3", "4", "5", "6"];
const DENSITY = ["a", "b", "c", "d"];

async function optional(path) {
  try {
    return await get(path);
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

export async function studyPage(root, me, uid) {
  const base = `/api/studies/${encodeURIComponent(uid)}`;
  const [results, feedback, report] = await Promise.all([
    optional(`${base}/results`),
    optional(`${base}/feedback`),
    optional(`${base}/report`),
  ]);
  const verdicts = latestVerdicts(feedback ? feedback.items : []);
  const findings = h("section", { class: "panel", id: "findings" });
  const quality = h("section", { class: "panel", id: "positioning" });
  const reportPanel = h("section", { class: "panel", id: "report" });
  const summary = h("section", { class: "summary", id: "summary" }, summaryOf(uid, results));
  root.replaceChildren(...frame(me, "worklist", summary, h("div", { class: "columns" }, h("div", {}, findings, quality), reportPanel)));
  drawFindings(findings, results, verdicts, base);
  drawQuality(quality, results);
  drawReport(reportPanel, report, base);
}

function latestVerdicts(items) {
  const out = new Map();
  for (const item of items) out.set(item.finding_id, item); // oldest first: the last one stands
  return out;
}

function summaryOf(uid, results) {
  if (!results) return [h("h1", {}, "Study"), h("p", { class: "uid" }, uid), h("p", { class: "note" }, "No results yet.")];
  const triage = results.triage || {};
  const density = results.density;
  return [
    h("h1", {}, "Study ", h("span", { class: `prio ${triage.priority || "routine"}` }, triage.priority || "—")),
    h("p", { class: "uid", title: uid }, uid),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Suspicion"),
      h("dd", {}, results.assessment ? `${Math.round(results.assessment.suspicion_score)} / 100` : "—"),
      h("dt", {}, "AI BI-RADS"),
      h("dd", {}, results.assessment ? results.assessment.birads : "—"),
      h("dt", {}, "Density"),
      h("dd", {}, density ? `${density.category ?? "—"}` : "—"),
      h("dt", {}, "Flags"),
      h("dd", {}, (triage.flags || []).map((f) => h("span", { class: `badge ${f}` }, f.replace(/_/g, " ")))),
    ),
    h("p", { class: "label" }, results.label),
  ];
}

function drawFindings(panel, results, verdicts, base) {
  const list = results ? [...results.findings].sort((a, b) => Number(b.shown) - Number(a.shown) || b.score - a.score) : [];
  const canJudge = hasRole("radiologist");
  const rows = list.map((finding) => findingRow(finding, verdicts.get(finding.id), canJudge, base));
  const shown = list.filter((f) => f.shown).length;
  const all = h("input", { type: "checkbox", id: "show-all" });
  const toggle = h("label", { class: "note toggle" }, all, ` ${list.length - shown} below the operating point`);
  clear(
    panel,
    h("h2", {}, `Findings (${shown})`, list.length > shown ? toggle : null),
    list.length
      ? h(
          "table",
          { class: "dense findings", id: "findings-table" },
          h("thead", {}, h("tr", {}, ["#", "Kind", "Side", "Score", "Size", "Where", "Verdict", canJudge ? "Review" : null].filter(Boolean).map((t) => h("th", {}, t)))),
          h("tbody", {}, rows),
        )
      : h("p", { class: "note" }, "No findings."),
  );
  all.addEventListener("change", () => panel.querySelector("table")?.classList.toggle("all", all.checked));
  let selected = null;
  const visible = () => rows.filter((r) => r.offsetParent !== null);
  const select = (row) => {
    rows.forEach((r) => r.classList.toggle("selected", r === row));
    selected = row;
  };
  if (rows.length) select(rows[0]);
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea") || !rows.length) return;
    const seen = visible();
    const at = Math.max(seen.indexOf(selected), 0);
    if (event.key === "j") select(seen[Math.min(at + 1, seen.length - 1)]);
    else if (event.key === "k") select(seen[Math.max(at - 1, 0)]);
    else if (event.key === "a") selected?.querySelector("button.accept")?.click();
    else if (event.key === "r") selected?.querySelector("select.reason")?.focus();
  });
}

function where(finding) {
  const loc = finding.location;
  if (!loc) return "—";
  return [loc.clock ? `${loc.clock} o'clock` : null, loc.quadrant, loc.depth, loc.distance_from_nipple_mm ? `${Math.round(loc.distance_from_nipple_mm)} mm FN` : null]
    .filter(Boolean)
    .join(", ");
}

function verdictText(v) {
  if (!v) return "—";
  return v.action === "reject" ? `rejected: ${(v.reason || "").replace(/_/g, " ")}` : `${v.action}ed`;
}

function findingRow(finding, verdict, canJudge, base) {
  const verdictCell = h("td", { class: `verdict wrap ${verdict ? verdict.action : ""}` }, verdictText(verdict));
  const tr = h(
    "tr",
    { dataset: { finding: finding.id }, class: finding.shown ? "" : "below-op" },
    h("td", {}, finding.id),
    h("td", { title: finding.kind }, KINDS[finding.kind] || finding.kind.replace(/_/g, " ")),
    h("td", {}, finding.laterality),
    h("td", { class: "num" }, finding.score.toFixed(2)),
    h("td", { class: "num" }, finding.size_mm != null ? `${finding.size_mm.toFixed(1)} mm` : "—"),
    h("td", { class: "wrap" }, where(finding)),
    verdictCell,
  );
  if (!canJudge) return tr;
  const accept = h("button", { type: "button", class: "accept" }, "Accept");
  const reason = h(
    "select",
    { class: "reason", "aria-label": `Reason to reject ${finding.id}` },
    h("option", { value: "" }, "reason…"),
    REASONS.map(([v, label]) => h("option", { value: v }, label)),
  );
  const reject = h("button", { type: "button", class: "reject" }, "Reject");
  const record = async (body) => {
    try {
      const saved = await send("POST", `${base}/findings/${encodeURIComponent(finding.id)}/feedback`, body);
      verdictCell.textContent = verdictText(saved);
      verdictCell.className = `verdict wrap ${saved.action}`;
      say(`Finding ${finding.id}: ${verdictText(saved)}`);
    } catch (err) {
      say(`Not saved: ${err.message}`, "error");
    }
  };
  accept.addEventListener("click", () => record({ action: "accept" }));
  reject.addEventListener("click", () => {
    if (!reason.value) {
      say("Choose a reason to reject", "error");
      reason.focus();
      return;
    }
    record({ action: "reject", reason: reason.value });
  });
  tr.append(h("td", { class: "actions" }, accept, reason, reject));
  return tr;
}

function drawQuality(panel, results) {
  const quality = results && results.quality;
  if (!quality || !quality.checks.length) {
    clear(panel, h("h2", {}, "Positioning"), h("p", { class: "note" }, "No positioning checks."));
    return;
  }
  clear(
    panel,
    h("h2", {}, "Positioning ", h("span", { class: `badge ${quality.verdict}` }, quality.verdict || "—")),
    h(
      "table",
      { class: "dense" },
      h("thead", {}, h("tr", {}, ["Check", "Image", "Result", "Value", "Why"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        quality.checks.map((c) =>
          h(
            "tr",
            { class: c.passed ? "" : "failed" },
            h("td", {}, c.name.replace(/_/g, " ")),
            h("td", {}, [c.laterality, c.view].filter(Boolean).join(" ") || "study"),
            h("td", {}, c.passed ? "pass" : "FAIL"),
            h("td", { class: "num" }, c.value != null ? `${Number(c.value).toFixed(1)} ${c.unit}` : "—"),
            h("td", { class: "wrap" }, c.reason),
          ),
        ),
      ),
    ),
  );
}

function choice(id, label, values, current) {
  return [
    h("label", { for: id }, label),
    h("select", { id }, values.map((v) => h("option", { value: v, selected: v === current }, v))),
  ];
}

function drawReport(panel, report, base) {
  if (!report) {
    clear(panel, h("h2", {}, "Report"), h("p", { class: "note" }, "No report draft yet."));
    return;
  }
  const confirmed = report.status === "confirmed";
  const state = h(
    "p",
    { id: "report-state", class: confirmed ? "ok" : "note" },
    confirmed ? `Confirmed by ${report.confirmed_by} at ${report.confirmed_at}` : "Draft — not confirmed",
  );
  const text = h("pre", { class: "report-text" }, report.text);
  const parts = [h("h2", {}, "Report"), state];
  if (hasRole("radiologist") && !confirmed) {
    const note = h("textarea", { id: "report-note", rows: 2, placeholder: "Note (optional)" });
    const button = h("button", { type: "button", class: "primary", id: "confirm" }, "Confirm report");
    const form = h(
      "div",
      { class: "form" },
      ...choice("report-birads", "BI-RADS", BIRADS, report.birads),
      ...choice("report-density", "Density", DENSITY, report.density),
      h("label", { for: "report-note" }, "Note"),
      note,
      button,
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const body = {
          birads: document.getElementById("report-birads").value,
          density: document.getElementById("report-density").value,
        };
        if (note.value.trim()) body.note = note.value.trim();
        const done = await send("POST", `${base}/report/confirm`, body);
        say("Report confirmed");
        drawReport(panel, done, base);
      } catch (err) {
        say(`Not confirmed: ${err.message}`, "error");
        button.disabled = false;
      }
    });
    parts.push(form);
  } else {
    parts.push(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "BI-RADS"),
        h("dd", {}, report.confirmed_birads || report.birads || "—"),
        h("dt", {}, "Density"),
        h("dd", {}, report.confirmed_density || report.density || "—"),
      ),
    );
  }
  parts.push(text);
  clear(panel, parts);
}
