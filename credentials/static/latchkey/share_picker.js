"use strict";
// The share forms' user and group inputs (the site's and the admin's): as the user types two letters or
// more, fill the input's <datalist> with the users or groups whose names start with them, from
// GET /api/share-candidates/ (a pause between keystrokes; a late answer for older text is dropped).
(function () {
  const script = document.currentScript;
  const api = (script && script.dataset.shareCandidatesApi) || "/api/share-candidates/";
  const MIN_PREFIX = 2;
  const PAUSE_MS = 250;

  function fill(list, results) {
    const options = results.map((candidate) => {
      const option = document.createElement("option");
      option.value = candidate.name;
      if (candidate.full_name) option.label = candidate.full_name;
      return option;
    });
    list.replaceChildren(...options);
  }

  function attach(input) {
    const list = input.list;
    if (!list) return;
    let timer;
    let asked = "";
    const search = () => {
      clearTimeout(timer);
      const prefix = input.value.trim();
      if (prefix.length < MIN_PREFIX) {
        list.replaceChildren();
        return;
      }
      timer = setTimeout(async () => {
        asked = prefix;
        const url = api + "?" + new URLSearchParams({ q: prefix, kind: input.dataset.shareCandidates });
        try {
          const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
          if (!response.ok || asked !== prefix) return; // refused, throttled, or the user typed on
          fill(list, (await response.json()).results || []);
        } catch (error) {
          // The list is a convenience: without it the name is typed whole.
        }
      }, PAUSE_MS);
    };
    input.addEventListener("input", search);
    // Letters typed before this script ran (a slow page) still get their answer.
    if (input.value.trim().length >= MIN_PREFIX) search();
  }

  function start() {
    document.querySelectorAll("input[data-share-candidates]").forEach(attach);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
