"use strict";
// Pinned host keys on an SSH key's form (the site's and the admin's). Beside a textarea whose data-schema-field
// is "host_keys", a panel fetches the keys a server offers (POST /api/ssh/host-keys/, through the
// outbound policy) or shows the keys GitHub and GitLab publish (GET .../presets/), each with its
// SHA256 fingerprint; only the keys the user ticks are added to the textarea. The panel's inputs have
// no name, so the form never sends them.
(function () {
  const script = document.currentScript;
  const api = (script && script.dataset.hostKeysApi) || "/api/ssh/host-keys/";
  let panels = 0;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function csrfToken(form) {
    const input = form && form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  async function call(form, method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken(form) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const first = Object.values(data.errors || {})[0];
      throw new Error((Array.isArray(first) && first[0]) || data.detail || "The server answered " + response.status + ".");
    }
    return data;
  }

  function pinnedLines(textarea) {
    return new Set(textarea.value.split(/\r?\n/).map((line) => line.trim()).filter(Boolean));
  }

  function offer(panel, textarea, keys, heading) {
    const results = panel.querySelector("[data-offered]");
    const status = panel.querySelector("[data-status]");
    const pinned = pinnedLines(textarea);
    const list = el("ul", { class: "offered-keys" });
    keys.forEach((key, index) => {
      const id = panel.id + "-key-" + index;
      const box = el("input", { type: "checkbox", id, value: key.line });
      if (pinned.has(key.line)) box.checked = box.disabled = true;
      const label = el("label", { for: id }, key.type + " ");
      label.append(el("code", {}, key.fingerprint));
      if (box.disabled) label.append(" (pinned)");
      const item = el("li");
      item.append(box, " ", label);
      list.append(item);
    });
    const add = el("button", { type: "button", class: "button small" }, "Pin the ticked keys");
    add.addEventListener("click", () => {
      const boxes = [...list.querySelectorAll("input:checked:not(:disabled)")];
      if (!boxes.length) {
        status.textContent = "Tick the keys whose fingerprints you have checked.";
        return;
      }
      const current = textarea.value.replace(/\s+$/, "");
      textarea.value = (current ? current + "\n" : "") + boxes.map((box) => box.value).join("\n") + "\n";
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      for (const box of boxes) box.disabled = true;
      status.textContent = boxes.length + " key" + (boxes.length === 1 ? "" : "s") + " added; save the form to keep them.";
    });
    results.replaceChildren(el("p", {}, heading), list, add);
  }

  function build(textarea) {
    const form = textarea.form;
    panels += 1;
    const panel = el("div", { class: "host-key-fetch", id: "host-key-fetch-" + panels, "data-host-key-fetch": "" });
    panel.append(
      el("p", { class: "help" }, "Fetch a server's keys, or take the keys GitHub or GitLab publish. Compare each " +
        "fingerprint with the one the server's operator publishes, then tick the keys to pin."),
    );
    const row = el("div", { class: "host-key-inputs" });
    const host = el("input", { type: "text", id: panel.id + "-host", autocomplete: "off", spellcheck: "false", placeholder: "git.example.com" });
    const port = el("input", { type: "number", id: panel.id + "-port", min: "1", max: "65535", value: "22" });
    const fetchButton = el("button", { type: "button", class: "button small" }, "Fetch host keys");
    row.append(el("label", { for: host.id }, "Server"), host, el("label", { for: port.id }, "Port"), port, fetchButton);
    const presets = el("div", { class: "host-key-presets" }, "Published keys: ");
    const status = el("p", { role: "status", "aria-live": "polite", "data-status": "" });
    panel.append(row, presets, status, el("div", { "data-offered": "" }));

    async function fetchKeys() {
      const name = host.value.trim();
      if (!name) {
        status.textContent = "Enter the server's host name.";
        host.focus();
        return;
      }
      status.textContent = "Asking " + name + " for its host keys…";
      fetchButton.disabled = true;
      try {
        const data = await call(form, "POST", api, { host: name, port: Number(port.value || 22) });
        status.textContent = "";
        offer(panel, textarea, data.keys, name + " offered these keys:");
      } catch (error) {
        status.textContent = error.message;
      } finally {
        fetchButton.disabled = false;
      }
    }
    fetchButton.addEventListener("click", fetchKeys);
    for (const input of [host, port]) {
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault(); // not the credential's form: only the fetch
          fetchKeys();
        }
      });
    }
    call(form, "GET", api + "presets/")
      .then((data) => {
        for (const preset of data) {
          const button = el("button", { type: "button", class: "button small" }, preset.host);
          button.addEventListener("click", () => {
            status.textContent = "";
            offer(panel, textarea, preset.keys, preset.host + " publishes these keys (" + preset.documentation + "):");
          });
          presets.append(button, " ");
        }
      })
      .catch(() => presets.remove());

    const fieldRow = textarea.closest("[data-field-row], .form-row") || textarea;
    if (fieldRow.classList.contains("form-row")) panel.classList.add("form-row"); // the admin's spacing
    fieldRow.after(panel);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const textarea of document.querySelectorAll('textarea[data-schema-field="host_keys"]')) build(textarea);
  });
})();
