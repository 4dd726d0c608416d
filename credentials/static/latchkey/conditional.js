"use strict";
// Conditional schema fields. An input whose data-show-if names other fields and the values
// that show it (as the type's schema says) is shown only while they hold. A hidden input is
// disabled, so the browser does not send it; the server ignores it as well.
(function () {
  function valueOf(form, name) {
    const inputs = form.querySelectorAll('[data-schema-field="' + CSS.escape(name) + '"]');
    for (const input of inputs) {
      if (input.type === "checkbox") return input.checked;
      if (input.type === "radio") {
        if (input.checked) return input.value;
        continue;
      }
      return input.value;
    }
    return undefined;
  }

  function holds(value, wanted) {
    // Values arrive as text from inputs; the schema may name numbers.
    return wanted.some((w) => w === value || (typeof w === "number" && String(w) === value));
  }

  function update(form) {
    for (const input of form.querySelectorAll("[data-show-if]")) {
      const condition = JSON.parse(input.dataset.showIf);
      const shown = Object.entries(condition).every(([name, wanted]) => holds(valueOf(form, name), wanted));
      // The site's pages wrap each field in [data-field-row]; the admin in .form-row.
      const row = input.closest("[data-field-row], .form-row") || input;
      row.style.display = shown ? "" : "none";
      input.disabled = !shown;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form")) {
      if (!form.querySelector("[data-show-if]")) continue;
      form.addEventListener("change", () => update(form));
      form.addEventListener("input", () => update(form));
      update(form);
    }
  });
})();
