"use strict";
// A copy button beside a value to take away (a new API token, an SSH key's public half): copies
// the value of the element its data-copy names and says so in its data-copy-status element.
// Without script the value is still there to select by hand; the button stays hidden.
(function () {
  function copied(button, text) {
    const status = document.getElementById(button.dataset.copyStatus);
    if (status) status.textContent = text;
  }

  async function copy(button) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    source.select();
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(source.value);
      } else if (!document.execCommand("copy")) {
        throw new Error("copy refused");
      }
      copied(button, "Copied.");
    } catch (error) {
      copied(button, "Could not copy: select it and copy it yourself.");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const button of document.querySelectorAll("button[data-copy]")) {
      button.hidden = false;
      button.addEventListener("click", () => copy(button));
    }
  });
})();
