// /signin: the local password form, and "Sign in with <IdP>" when single sign-on is set up.
import { signIn } from "./api.js";
import { h } from "./dom.js";

export function signinPage(root, data) {
  const next = data.next || "/worklist";
  const error = h("p", { class: "error", id: "signin-error", role: "alert", hidden: true });
  const name = h("input", { id: "name", name: "name", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "signin", id: "signin" },
    h("h1", {}, "breastgate"),
    h("p", { class: "note" }, "Breast imaging AI gateway — sign in to read"),
    h("label", { for: "name" }, "User name"),
    name,
    h("label", { for: "password" }, "Password"),
    password,
    error,
    button,
    data.sso
      ? h(
          "a",
          { class: "button sso", href: `/api/session/oidc/login?next=${encodeURIComponent(next)}` },
          `Sign in with ${data.sso}`,
        )
      : null,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.hidden = true;
    try {
      await signIn(name.value, password.value);
      location.assign(next);
    } catch (err) {
      error.textContent =
        err.status === 429 ? "Too many failed sign-ins; wait a few minutes." : "Unknown user name or wrong password.";
      error.hidden = false;
      password.value = "";
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  root.replaceChildren(h("main", { class: "centered" }, form));
}
