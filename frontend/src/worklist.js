// /worklist: the reading list (AI priority, then age, as the API sorts it), flags as badges,
// filters and queue views, updated live from /api/worklist/events without a reload.
import { get } from "./api.js";
import { frame, say } from "./chrome.js";
import { ago, clear, h, shortUid } from "./dom.js";

const FILTERS = {
  flag: ["", "suspicious_finding", "birads_0_suspected", "new_finding", "growing_finding", "washout_kinetics", "positioning_inadequate", "dense_breast"],
  modality: ["", "MG", "DBT", "MR", "US"],
  status: ["", "scheduled", "in_progress", "completed", "canceled"],
};
const QUEUES = [
  ["", "All"],
  ["radiologist", "Radiologist"],
  ["technologist", "Technologist"],
];

export async function worklistPage(root, me) {
  const params = new URLSearchParams(location.search);
  const state = {
    flag: params.get("flag") || "",
    modality: params.get("modality") || "",
    status: params.get("status") || "",
    queue: params.get("queue") || (me.roles.includes("technologist") && !me.roles.includes("radiologist") ? "technologist" : ""),
    selected: 0,
  };
  const body = h("tbody", { id: "worklist-rows" });
  const count = h("span", { class: "count", id: "worklist-count" });
  const live = h("span", { class: "live", id: "live", title: "Live updates" }, "○ connecting");
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const selects = Object.entries(FILTERS).map(([key, values]) => {
    const select = h(
      "select",
      { id: `filter-${key}`, "aria-label": key },
      values.map((v) => h("option", { value: v, selected: v === state[key] }, v ? v.replace(/_/g, " ") : `any ${key}`)),
    );
    select.addEventListener("change", () => {
      state[key] = select.value;
      refresh();
    });
    return select;
  });
  const table = h(
    "table",
    { class: "dense worklist", id: "worklist" },
    h(
      "thead",
      {},
      h("tr", {}, ["Priority", "Score", "Flags", "Modality", "Accession", "Study", "Queue", "Status", "Waiting"].map((t) => h("th", {}, t))),
    ),
    body,
  );
  root.replaceChildren(
    ...frame(
      me,
      "worklist",
      h("section", { class: "toolbar" }, h("h1", {}, "Worklist"), tabs, ...selects, h("span", { class: "grow" }), count, live),
      table,
    ),
  );

  function drawTabs() {
    clear(
      tabs,
      QUEUES.map(([value, label]) => {
        const tab = h("button", { type: "button", role: "tab", "aria-selected": String(state.queue === value), dataset: { queue: value } }, label);
        tab.addEventListener("click", () => {
          state.queue = value;
          drawTabs();
          refresh();
        });
        return tab;
      }),
    );
  }

  function query() {
    const q = new URLSearchParams();
    for (const key of ["flag", "modality", "status", "queue"]) if (state[key]) q.set(key, state[key]);
    q.set("limit", "200");
    return q;
  }

  let loading = null;
  async function refresh() {
    const q = query();
    history.replaceState(null, "", `/worklist?${[...q].filter(([k]) => k !== "limit").map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`);
    const mine = (loading = get(`/api/worklist?${q}`));
    const page = await mine;
    if (mine !== loading) return; // a newer request is on its way
    draw(page.items);
  }

  function draw(items) {
    clear(body, items.map(row));
    if (!items.length) body.append(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No studies match.")));
    count.textContent = `${items.length} stud${items.length === 1 ? "y" : "ies"}`;
    select(Math.min(state.selected, Math.max(items.length - 1, 0)));
  }

  function row(item) {
    const href = `/studies/${encodeURIComponent(item.study_instance_uid)}`;
    return h(
      "tr",
      { class: `prio-${item.priority}`, dataset: { uid: item.study_instance_uid, href } },
      h("td", {}, h("span", { class: `prio ${item.priority}` }, item.priority)),
      h("td", { class: "num" }, Math.round(item.score)),
      h("td", {}, (item.flags || []).map((f) => h("span", { class: `badge ${f}` }, f.replace(/_/g, " ")))),
      h("td", {}, item.modality || "—"),
      h("td", {}, item.accession_number || "—"),
      h("td", { class: "uid" }, h("a", { href, title: item.study_instance_uid }, shortUid(item.study_instance_uid))),
      h("td", {}, item.queue),
      h("td", {}, item.status.replace("_", " ")),
      h("td", { class: "num", title: item.arrived_at }, ago(item.arrived_at)),
    );
  }

  function select(index) {
    const rows = [...body.querySelectorAll("tr[data-uid]")];
    rows.forEach((r, i) => r.classList.toggle("selected", i === index));
    state.selected = index;
    rows[index]?.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const rows = body.querySelectorAll("tr[data-uid]");
    if (event.key === "j") select(Math.min(state.selected + 1, rows.length - 1));
    else if (event.key === "k") select(Math.max(state.selected - 1, 0));
    else if (event.key === "Enter" && rows[state.selected]) location.assign(rows[state.selected].dataset.href);
    else if (event.key === "/") {
      event.preventDefault();
      selects[0].focus();
    } else return;
  });
  body.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-uid]");
    if (tr && !event.target.closest("a")) location.assign(tr.dataset.href);
  });

  function listen() {
    const events = new EventSource("/api/worklist/events");
    events.addEventListener("hello", () => {
      live.textContent = "● live";
      live.dataset.state = "live";
    });
    events.addEventListener("worklist", () => {
      refresh();
      say(`Worklist updated ${new Date().toLocaleTimeString()}`);
    });
    events.addEventListener("error", () => {
      live.textContent = "○ reconnecting";
      live.dataset.state = "down";
    });
  }

  drawTabs();
  await refresh();
  listen();
}
