// breastgate's pages: the FastAPI shell names the page in <body data-page>; this draws it.
import "./style.css";
import { session } from "./api.js";
import { h } from "./dom.js";
import { governancePage } from "./governance.js";
import { signinPage } from "./signin.js";
import { studyPage } from "./study.js";
import { worklistPage } from "./worklist.js";

async function start() {
  const root = document.getElementById("app");
  const data = document.body.dataset;
  if (data.page === "signin") {
    signinPage(root, data);
    document.body.dataset.ready = "true";
    return;
  }
  const me = await session();
  if (data.page === "worklist") await worklistPage(root, me);
  else if (data.page === "study") await studyPage(root, me, data.study);
  else if (data.page === "governance") await governancePage(root, me);
  document.body.dataset.ready = "true";
}

start().catch((err) => {
  document.getElementById("app").replaceChildren(h("p", { class: "error" }, `This page could not load: ${err.message}`));
});
