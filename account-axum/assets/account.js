// Progressive enhancement for the account pages. Every form works without this file;
// it adds the WebAuthn ceremonies (through the JSON API), copy/download/print buttons,
// confirmation dialogs, submitting a language choice at once, and moving focus to the
// notice an action left.
"use strict";

(function () {
  const body = document.body;
  const api = body.dataset.api || "/api";

  // --- base64url <-> ArrayBuffer, for the WebAuthn JSON of webauthn-rs -----------------
  function fromB64u(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const pad = b64.length % 4 ? "=".repeat(4 - (b64.length % 4)) : "";
    const bin = atob(b64 + pad);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }
  function toB64u(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  // The options of a ceremony with its binary fields (the challenge, the user's id, the
  // credentials to allow or exclude) decoded from base64url.
  function decodeOptions(options) {
    const pk = Object.assign({}, options.publicKey);
    const ids = (list) => list && list.map((c) => Object.assign({}, c, { id: fromB64u(c.id) }));
    pk.challenge = fromB64u(pk.challenge);
    if (pk.user) pk.user = Object.assign({}, pk.user, { id: fromB64u(pk.user.id) });
    if (pk.excludeCredentials) pk.excludeCredentials = ids(pk.excludeCredentials);
    if (pk.allowCredentials) pk.allowCredentials = ids(pk.allowCredentials);
    return { publicKey: pk };
  }
  function registrationJson(cred) {
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        attestationObject: toB64u(cred.response.attestationObject),
        clientDataJSON: toB64u(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
      },
    };
  }
  function assertionJson(cred) {
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        authenticatorData: toB64u(cred.response.authenticatorData),
        clientDataJSON: toB64u(cred.response.clientDataJSON),
        signature: toB64u(cred.response.signature),
        userHandle: cred.response.userHandle ? toB64u(cred.response.userHandle) : null,
      },
    };
  }

  async function post(path, payload) {
    const response = await fetch(api + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(payload || {}),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : {};
    if (!response.ok) {
      const error = new Error(data.detail || response.statusText);
      error.problem = data;
      throw error;
    }
    return data;
  }

  // The API routes of each ceremony: [start, finish, kind].
  const ceremonies = {
    login: ["/auth/passkey/start", "/auth/passkey/finish", "get"],
    "second-factor": ["/auth/login/passkey/start", "/auth/login/passkey/finish", "get"],
    reauthenticate: ["/auth/reauthenticate/passkey/start", "/auth/reauthenticate/passkey/finish", "get"],
    register: ["/account/passkeys/start", "/account/passkeys/finish", "create"],
  };

  function announce(button, message) {
    let slot = button.parentElement.querySelector(".js-error");
    if (!slot) {
      slot = document.createElement("p");
      slot.className = "notice notice-error js-error";
      slot.setAttribute("role", "alert");
      slot.tabIndex = -1;
      button.parentElement.appendChild(slot);
    }
    slot.textContent = message;
    slot.focus();
  }

  async function ceremony(kind, payload, mediation, signal) {
    const [start, finish, how] = ceremonies[kind];
    const begun = await post(start, payload);
    let credential;
    if (how === "create") {
      credential = registrationJson(await navigator.credentials.create(decodeOptions(begun.options)));
    } else {
      const options = decodeOptions(begun.options);
      if (mediation) options.mediation = mediation;
      if (signal) options.signal = signal;
      credential = assertionJson(await navigator.credentials.get(options));
    }
    return post(finish, { ceremony_id: begun.ceremony_id, credential: credential });
  }

  function after(button, kind) {
    if (kind === "register") {
      const url = new URL(window.location.href);
      url.search = "?done=passkey_added";
      url.hash = "passkeys";
      window.location.assign(url.toString());
    } else if (button.dataset.thenSubmit) {
      const form = document.getElementById(button.dataset.thenSubmit);
      const password = form.querySelector("[name=reauth_password]");
      if (password) password.removeAttribute("name");
      form.submit();
    } else {
      window.location.assign(button.dataset.next || (body.dataset.base + "/profile"));
    }
  }

  let conditional = null;
  document.querySelectorAll("[data-passkey]").forEach((button) => {
    if (!window.PublicKeyCredential) return;
    button.hidden = false;
    const kind = button.dataset.passkey;
    const run = async (event) => {
      if (event) event.preventDefault();
      if (conditional) conditional.abort();
      const payload = {};
      if (kind === "register") {
        const name = button.form ? button.form.querySelector("[name=name]") : null;
        if (name && !name.reportValidity()) return;
        payload.name = name ? name.value : "";
      }
      button.disabled = true;
      try {
        await ceremony(kind, payload);
        after(button, kind);
      } catch (error) {
        button.disabled = false;
        const detail = error.problem && error.problem.code === "reauthentication_required" && button.dataset.reauth
          ? button.dataset.reauth : button.dataset.error;
        announce(button, detail || String(error));
      }
    };
    if (button.form && kind === "register") {
      button.form.addEventListener("submit", run);
    } else {
      button.addEventListener("click", run);
    }
  });

  // Passkeys offered in the browser's autofill on the login form.
  const loginButton = document.querySelector("[data-passkey=login]");
  if (loginButton && window.PublicKeyCredential && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (!available) return;
      conditional = new AbortController();
      ceremony("login", {}, "conditional", conditional.signal)
        .then(() => after(loginButton, "login"))
        .catch(() => {});
    });
  }

  // --- copy, download, print --------------------------------------------------------
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      const text = source.value !== undefined ? source.value : source.textContent;
      try {
        await navigator.clipboard.writeText(text.trim());
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand("copy");
      }
      const label = button.textContent;
      button.textContent = button.dataset.copied || label;
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  });

  // --- confirmations and instant language switch ------------------------------------
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  // --- focus the notice an action left, so that it is read out first ---------------
  const notice = document.querySelector("[data-focus]");
  if (notice) notice.focus();
})();
