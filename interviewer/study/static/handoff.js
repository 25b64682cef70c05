// On the interview page: a respondent who is in a study goes on to its surveys when the interview is
// finished (and straight there when it was finished before). Nothing happens for anyone else.
"use strict";
(function () {
  const token = decodeURIComponent(location.hash.replace(/^#(t=)?/, ""));
  if (!token) return;
  let leaving = false;
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
