"use strict";
// The plugin form's credential picker, narrowed while the repository URL is typed: only the
// credentials whose transport (data-transport) and allowed hosts (data-hosts) fit the URL stay
// offered. A convenience only: the server checks the fit again, and offers the same list after
// a refused submission.
(function () {
  const SCP_LIKE = /^[A-Za-z0-9._-]+@(\[[^\]]+\]|[^:/\s]+):(?!\/\/)/;

  function normaliseHost(host) {
    host = host.toLowerCase().replace(/\.$/, "");
    return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  }

  // {transport, host} for a URL git could clone, or null while it is not one (yet).
  function locate(text) {
    text = text.trim();
    const scp = SCP_LIKE.exec(text);
    if (scp) return { transport: "ssh", host: normaliseHost(scp[1]) };
    let url;
    try {
      url = new URL(text);
    } catch (error) {
      return null;
    }
    const transport = { "https:": "https", "ssh:": "ssh" }[url.protocol];
    if (!transport || !url.hostname) return null;
    return { transport: transport, host: normaliseHost(url.hostname) };
  }

  function fits(option, location) {
    if (option.value === "") return true; // "Choose a credential…"
    if (option.value === "none") return location.transport === "https"; // a public repository
    const hosts = (option.dataset.hosts || "").split(" ");
    return option.dataset.transport === location.transport && hosts.includes(location.host);
  }

  function update(url, picker, status) {
    const location = locate(url.value);
    let offered = 0;
    for (const option of picker.options) {
      const shown = location === null || fits(option, location);
      option.hidden = !shown;
      option.disabled = !shown;
      if (shown && option.value !== "" && option.value !== "none") offered += 1;
    }
    if (picker.selectedOptions.length && picker.selectedOptions[0].disabled) picker.value = "";
    status.textContent =
      location === null ? "" : offered + " of your credentials fit" + (offered === 1 ? "s" : "") + " this URL.";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const picker = document.querySelector("[data-credential-picker]");
    const url = picker && picker.form.querySelector('[name="repo_url"]');
    if (!url) return; // the edit form: its URL is fixed, and the server narrowed the list
    const status = document.createElement("p");
    status.className = "help";
    status.setAttribute("role", "status");
    picker.closest("[data-field-row]").appendChild(status);
    url.addEventListener("input", () => update(url, picker, status));
    update(url, picker, status);
  });
})();
