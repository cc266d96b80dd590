// salonbot console: keeps the staff token for the tab, fetches the server's views with it
// and sends the forms' actions to the staff API. No framework, no build step.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("console-config").textContent);
  const T = config.texts;
  const TOKEN = "salonbot.staff.token";
  const VERIFIER = "salonbot.staff.pkce";
  const POLL_MS = 5000;
  const $ = (selector) => document.querySelector(selector);
  const view = $("#view");
  const signedOut = $("#signed-out");
  const nav = $("#nav");
  const signOut = $("#sign-out");
  let token = sessionStorage.getItem(TOKEN);
  let timer = null;

  const key = () =>
    crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  const enc = encodeURIComponent;
  const fill = (text, values) =>
    Object.entries(values).reduce((out, [name, value]) => out.replace(`{${name}}`, value), text);

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method === "POST") headers["Idempotency-Key"] = key();
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      leave();
      throw new Error("signed out");
    }
    return response;
  }

  function problem(data) {
    if (data && Array.isArray(data.detail) && data.detail.length) {
      return data.detail.map((d) => fill(T.error_field, { field: d.field, message: d.msg })).join(" ");
    }
    return fill(T.error, { message: (data && data.message) || "?" });
  }

  function route() {
    const [name, ...rest] = (location.hash.slice(1) || "inbox").split("/");
    return { name, arg: decodeURIComponent(rest.join("/")) };
  }

  function viewPath({ name, arg }) {
    const base = "/api/v1/staff/views";
    const lang = `lang=${enc(config.language)}`;
    if (name === "thread") return `${base}/thread/${enc(arg)}?${lang}`;
    if (name === "calendar") return `${base}/calendar?${lang}${arg ? `&date=${enc(arg)}` : ""}`;
    if (name === "dashboard") return `${base}/dashboard?${lang}${arg ? `&days=${enc(arg)}` : ""}`;
    if (name === "settings") return `${base}/settings?${lang}`;
    return `${base}/inbox?${lang}${arg === "all" ? "&status=all" : ""}`;
  }

  async function show({ focus = true } = {}) {
    if (!token) return;
    const where = route();
    const response = await api("GET", viewPath(where));
    const html = await response.text();
    if (!response.ok) {
      view.textContent = fill(T.error, { message: response.status });
      return;
    }
    if (view.innerHTML !== html) view.innerHTML = html; // escaped on the server
    for (const link of nav.querySelectorAll("a")) {
      const current = link.dataset.nav === (where.name === "thread" ? "inbox" : where.name);
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (focus) {
      const title = $("#view-title");
      if (title) {
        title.tabIndex = -1;
        title.focus();
      }
    }
    clearInterval(timer);
    if (where.name === "inbox") timer = setInterval(() => show({ focus: false }), POLL_MS);
  }

  function enter() {
    signedOut.hidden = true;
    nav.hidden = false;
    signOut.hidden = false;
    show();
  }

  function leave() {
    sessionStorage.removeItem(TOKEN);
    token = null;
    clearInterval(timer);
    view.innerHTML = "";
    signedOut.hidden = false;
    nav.hidden = true;
    signOut.hidden = true;
  }

  const actions = {
    day: async (form, data) => {
      location.hash = `calendar/${data.date}`;
    },
    reply: (form, data) =>
      api("POST", `/api/v1/staff/conversations/${enc(form.dataset.conversation)}/messages`, {
        text: data.text,
      }),
    template: (form, data) => {
      const [name, language] = data.template.split("|");
      return api("POST", `/api/v1/staff/conversations/${enc(form.dataset.conversation)}/templates`, {
        name,
        language,
      });
    },
    release: (form) =>
      api("POST", `/api/v1/staff/conversations/${enc(form.dataset.conversation)}/release`),
    "walk-in": (form, data) => {
      const body = { service: data.service, start: data.start, phone: data.phone };
      if (data.master) body.master = data.master;
      if (data.name) body.name = data.name;
      return api("POST", "/api/v1/staff/bookings", body);
    },
    move: (form, data) => {
      const body = { start: data.start };
      if (data.master) body.master = data.master;
      return api("PATCH", `/api/v1/staff/bookings/${enc(form.dataset.code)}`, body);
    },
    mark: (form, data, submitter) =>
      api("PATCH", `/api/v1/staff/bookings/${enc(form.dataset.code)}`, {
        status: submitter ? submitter.value : "cancelled",
      }),
    upload: async (form) => {
      const file = form.querySelector("input[type=file]").files[0];
      return api("POST", "/api/v1/staff/salon-file", { content: await file.text() });
    },
  };

  // A booking on the calendar opens the one booking panel, filled for it.
  view.addEventListener("click", (event) => {
    const open = event.target.closest("button.open[data-code]");
    if (!open) return;
    const panel = view.querySelector("#booking-panel");
    if (!panel) return;
    for (const form of panel.querySelectorAll("form")) form.dataset.code = open.dataset.code;
    panel.querySelector("[data-panel-title]").textContent = open.textContent;
    panel.querySelector("input[name=start]").value = open.dataset.start;
    panel.querySelector("[data-alert]").textContent = "";
    panel.hidden = false;
    panel.querySelector("[data-panel-title]").focus();
  });

  view.addEventListener("submit", async (event) => {
    const form = event.target;
    const action = actions[form.dataset.action];
    if (!action) return;
    event.preventDefault();
    const alert = form.querySelector("[data-alert]") || form.parentElement.querySelector("[data-alert]");
    if (alert) alert.textContent = "";
    const response = await action(form, Object.fromEntries(new FormData(form)), event.submitter);
    if (!response) return;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      if (alert) alert.textContent = problem(data);
      return;
    }
    if (form.dataset.action === "release") {
      location.hash = "inbox";
    } else if (form.dataset.action === "upload") {
      alert.textContent = fill(T.uploaded, { revision: data.revision });
    } else {
      await show({ focus: false });
    }
  });

  const signInForm = $("#sign-in");
  if (signInForm) {
    signInForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch("/console/sign-in", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: signInForm.email.value, password: signInForm.password.value }),
      });
      if (!response.ok) {
        $("#sign-in-alert").textContent = T.sign_in_failed;
        return;
      }
      token = (await response.json()).access_token;
      sessionStorage.setItem(TOKEN, token);
      enter();
    });
  }

  // The hosted UI (AWS): the authorization code flow with PKCE, no client secret.
  const b64url = (bytes) =>
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const redirect = () => location.origin + location.pathname;
  const hosted = document.querySelector("[data-hosted-ui]");
  if (hosted) {
    hosted.addEventListener("click", async (event) => {
      event.preventDefault();
      const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
      sessionStorage.setItem(VERIFIER, verifier);
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
      const query = new URLSearchParams({
        response_type: "code",
        client_id: config.clientId,
        redirect_uri: redirect(),
        scope: "openid email aws.cognito.signin.user.admin",
        code_challenge_method: "S256",
        code_challenge: b64url(new Uint8Array(digest)),
      });
      location.assign(`${config.hostedUi}/oauth2/authorize?${query}`);
    });
  }

  async function fromHostedUi() {
    const code = new URLSearchParams(location.search).get("code");
    const verifier = sessionStorage.getItem(VERIFIER);
    if (!code || !verifier || !config.hostedUi) return;
    history.replaceState(null, "", redirect() + location.hash);
    const response = await fetch(`${config.hostedUi}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: config.clientId,
        code,
        redirect_uri: redirect(),
        code_verifier: verifier,
      }),
    });
    sessionStorage.removeItem(VERIFIER);
    if (response.ok) {
      token = (await response.json()).access_token;
      sessionStorage.setItem(TOKEN, token);
    }
  }

  signOut.addEventListener("click", leave);
  window.addEventListener("hashchange", () => show());
  fromHostedUi().then(() => {
    if (token) enter();
  });
})();
