// The frame around every signed-in page: brand, navigation, the user and sign-out, a status line,
// and the keyboard: "g w" worklist, "g g" governance, "?" the list of keys.
import { hasRole, signOut } from "./api.js";
import { h } from "./dom.js";

const KEYS = [
  ["j / k", "next / previous row"],
  ["Enter", "open the selected study"],
  ["/", "first filter"],
  ["a / r", "accept / reject the selected finding (study page)"],
  ["g w", "worklist"],
  ["g g", "governance"],
  ["?", "these keys"],
];

export function frame(me, active, ...content) {
  const link = (href, label, key) =>
    h("a", { href, class: active === key ? "active" : "", "aria-current": active === key ? "page" : null }, label);
  const out = h("button", { type: "button", class: "quiet", id: "signout" }, "Sign out");
  out.addEventListener("click", async () => {
    await signOut();
    // Signed in through the hospital's IdP: end that session too, when the IdP offers it.
    const idp = "/api/session/oidc/logout";
    const ends = me.via === "oidc" && (await fetch(idp, { redirect: "manual" })).type === "opaqueredirect";
    location.assign(ends ? idp : "/signin");
  });
  const help = h(
    "dialog",
    { id: "keys" },
    h("h2", {}, "Keys"),
    h("table", { class: "dense" }, KEYS.map(([k, d]) => h("tr", {}, h("td", {}, h("kbd", {}, k)), h("td", {}, d)))),
    h("form", { method: "dialog" }, h("button", {}, "Close")),
  );
  const bar = h(
    "header",
    { class: "bar" },
    h("span", { class: "brand" }, "breastgate"),
    h("nav", {}, link("/worklist", "Worklist", "worklist"), link("/governance", "Governance", "governance")),
    h("span", { class: "grow" }),
    h("span", { class: "who", id: "who" }, `${me.user} · ${me.roles.join(", ")}`),
    out,
  );
  const status = h("footer", { class: "status", id: "status" }, "Not for diagnostic use: AI output is for review.");
  installKeys(help);
  return [bar, h("main", {}, ...content), status, help];
}

function installKeys(help) {
  let pending = "";
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = pending + event.key;
    pending = "";
    if (key === "g") pending = "g";
    else if (key === "gw") location.assign("/worklist");
    else if (key === "gg") location.assign("/governance");
    else if (key === "?") help.showModal();
  });
}

export function say(text, kind = "info") {
  const status = document.getElementById("status");
  if (status) {
    status.textContent = text;
    status.dataset.kind = kind;
  }
}

export function roleNote(...roles) {
  return hasRole(...roles) ? null : h("p", { class: "note" }, `Changes here need the role ${roles.join(" or ")}.`);
}
