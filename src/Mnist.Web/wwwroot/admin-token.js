// The admin token, for a server listening beyond localhost: there, starting or cancelling training
// and switching the served model need "Authorization: Bearer <token>" (the token `mnist serve`
// printed at start). The page asks for it once and adds it to its own write requests; it is kept
// for this browser tab only.
"use strict";

const TOKEN_KEY = "mnist-admin-token";
const plainFetch = window.fetch.bind(window);

window.fetch = (input, init = {}) => {
  const method = (init.method || "GET").toUpperCase();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && method !== "GET" && method !== "HEAD") {
    const headers = new Headers(init.headers || {});
    headers.set("Authorization", "Bearer " + token);
    init = { ...init, headers };
  }
  return plainFetch(input, init);
};

(async () => {
  const access = await (await plainFetch("/api/access")).json();
  if (!access.writesNeedToken) return;
  const label = document.createElement("label");
  label.className = "admin-token";
  label.textContent = "Admin token";
  const field = document.createElement("input");
  field.type = "password";
  field.id = "admin-token";
  field.autocomplete = "off";
  field.placeholder = "printed by mnist serve at start";
  field.value = sessionStorage.getItem(TOKEN_KEY) || "";
  field.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, field.value.trim()));
  label.appendChild(field);
  document.querySelector("header").appendChild(label);
})();
