// The SPA's sign-in, as in SaaSus's reference apps, in plain JavaScript (no framework, no build).
//
// callback.html: SaaSus's hosted login (through the API's /callback) or saasus_mw's
// tenant picker sends the browser here with ?code=<temp code>. The code goes to the
// API's GET /credentials, the tokens it returns are kept in sessionStorage (this tab
// only; the reference apps use localStorage), and GET /userinfo with the ID token as
// a Bearer token says who signed in. index.html shows the same from the stored token.
//
// Everything the API or the address bar says is written with textContent, never as HTML.
"use strict";

(function () {
  const config = window.SPA_CONFIG || {}; // from config.js
  const API = config.apiUrl;
  const store = window.sessionStorage;

  function say(text) {
    document.getElementById("status").textContent = text;
  }

  function signedOut() {
    say("Not signed in.");
    const login = config.loginUrl; // the SaaSus hosted login, when configured
    if (login) {
      document.getElementById("signin-link").href = login;
      document.getElementById("signin").hidden = false;
    }
  }

  function fail(text) {
    signedOut();
    const error = document.getElementById("error");
    error.textContent = text;
    error.hidden = false;
  }

  async function call(path, idToken) {
    const response = await fetch(API + path, {
      headers: idToken ? { Authorization: "Bearer " + idToken } : {},
      credentials: "omit", // the API reads the Bearer token, never cookies
      cache: "no-store",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(typeof body.detail === "string" ? body.detail : "HTTP " + response.status);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  async function signIn(code) {
    const tokens = await call("/credentials?code=" + encodeURIComponent(code));
    store.setItem("id_token", tokens.id_token);
    store.setItem("access_token", tokens.access_token);
    if (tokens.refresh_token) store.setItem("refresh_token", tokens.refresh_token);
  }

  async function showUser() {
    const idToken = store.getItem("id_token");
    if (!idToken) {
      signedOut();
      return;
    }
    let user;
    try {
      user = await call("/userinfo", idToken);
    } catch (error) {
      if (error.status === 401) store.clear(); // expired or revoked: sign in again
      throw error;
    }
    say("Signed in as " + (user.email || user.sign_in_id));
    const items = user.tenants.map((tenant) => {
      const item = document.createElement("li");
      item.textContent = tenant.name;
      return item;
    });
    document.getElementById("tenants").replaceChildren(...items);
    document.getElementById("tenants-section").hidden = false;
  }

  async function callback() {
    const params = new URLSearchParams(window.location.search);
    // Out of the address bar and the history at once: the code is single-use and
    // the address may be bookmarked, shared or logged.
    window.history.replaceState(null, "", window.location.pathname);
    const error = params.get("error");
    if (error) {
      fail("Sign-in failed: " + (params.get("error_description") || error));
      return;
    }
    const code = params.get("code");
    if (code) await signIn(code);
    await showUser();
  }

  if (!API) {
    fail("This page is not configured: config.js must set SPA_CONFIG.apiUrl.");
    return;
  }
  const page = document.body.dataset.page === "callback" ? callback : showUser;
  page().catch((error) => fail("Sign-in failed: " + error.message));
})();
