// A participant-platform link (/study/join/<study>?PROLIFIC_PID=...): the server maps the platform's
// participant id to one respondent and returns a fresh link token; the page then continues on the study page
// (the token in the fragment, the platform id no longer in the address). A second visit resumes.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  function show(id) {
    for (const s of ["loading", "link-problem", "full-screen"]) $(s).hidden = s !== id;
    const heading = $(id).querySelector("h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }
  async function join() {
    const study = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
    let response, body = {};
    try {
      response = await fetch("/api/study/join", {
        method: "POST", cache: "no-store", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ study, query: location.search }),
      });
      body = await response.json().catch(() => ({}));
    } catch (e) {
      $("link-problem-text").textContent = "The connection failed. Please reload this page.";
      show("link-problem");
      return;
    }
    if (response.ok && body.token) {
      location.replace((body.next || "/study") + "#" + encodeURIComponent(body.token));
      return;
    }
    if (body.error === "study_full") { $("full-text").textContent = body.detail; show("full-screen"); return; }
    $("link-problem-text").textContent = body.detail || "Please open the study from the participant platform again.";
    show("link-problem");
  }
  document.addEventListener("DOMContentLoaded", join);
})();
