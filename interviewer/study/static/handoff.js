// On the interview page: a respondent who is in a study reads the study's consent wording (its own, from the
// study file, else a default stating the retest delay) and goes on to its surveys when the interview is
// finished (and straight there when it was finished before). Nothing happens for anyone else.
"use strict";
(function () {
  const token = decodeURIComponent(location.hash.replace(/^#(t=)?/, ""));
  if (!token) return;
  let leaving = false;

  // Plain text as paragraphs ("- " lines as a list); never interpreted as HTML.
  function renderText(box, text) {
    const nodes = [];
    for (const block of String(text || "").split(/\n\s*\n/)) {
      const lines = block.split("\n").map((l) => l.trim()).filter(Boolean);
      if (!lines.length) continue;
      if (lines.every((l) => /^[-*•] /.test(l))) {
        const list = document.createElement("ul");
        for (const l of lines) { const li = document.createElement("li"); li.textContent = l.replace(/^[-*•] /, ""); list.append(li); }
        nodes.push(list);
      } else {
        const p = document.createElement("p");
        p.textContent = lines.join(" ");
        nodes.push(p);
      }
    }
    if (nodes.length) box.replaceChildren(...nodes);
  }

  async function check() {
    if (leaving) return;
    let response;
    try {
      response = await fetch("/api/study/session", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    } catch (e) { return; }
    if (!response.ok) return;   // not in a study, or a link problem the interview page shows itself
    const state = await response.json();
    if (state.phase !== "interview") {
      leaving = true;
      location.replace("/study#" + encodeURIComponent(token));
      return;
    }
    const box = document.querySelector("#consent-screen .consent-text");
    if (box && state.consent_text && !state.consented) {
      renderText(box, state.consent_text);
      box.setAttribute("data-study-consent", state.study);
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    const finished = document.getElementById("finished-screen");
    if (finished) {
      new MutationObserver(() => { if (!finished.hidden) check(); })
        .observe(finished, { attributes: true, attributeFilter: ["hidden"] });
    }
    check();
  });
})();
