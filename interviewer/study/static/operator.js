// The operator's study view: each participant's progress through the interview, the surveys and the retest;
// "Open retest now" opens a waiting participant's retest at once (logged in the study's log).
"use strict";
(function () {
  const token = decodeURIComponent(location.hash.replace(/^#/, ""));
  const $ = (id) => document.getElementById(id);
  function cell(row, text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); row.append(td); return td; }
  function showError(message) { $("error").textContent = message || ""; $("error").hidden = !message; }

  async function openRetest(study, respondent, button) {
    if (!window.confirm(`Open the retest for ${respondent} now? Their link opens round 2 at once.`)) return;
    button.disabled = true;
    const response = await fetch(`/api/operator/studies/${encodeURIComponent(study)}/open-retest`, {
      method: "POST", cache: "no-store",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ respondent }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { showError(body.detail || response.statusText); button.disabled = false; return; }
    showError("");
    $("notice").textContent = `Retest opened for ${respondent}.`;
    await load();
  }

  async function load() {
    $("sessions-link").href = "/operator#" + encodeURIComponent(token);
    const response = await fetch("/api/operator/studies", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { showError(body.detail || response.statusText); $("studies").textContent = ""; return; }
    const box = $("studies");
    box.replaceChildren();
    if (!body.studies.length) { box.textContent = "No studies yet: create one with `simulacra study create FILE`."; return; }
    for (const study of body.studies) {
      const h = document.createElement("h2");
      h.textContent = `${study.id}${study.title ? " — " + study.title : ""} (${study.instruments.join(", ")}; ${study.questions} questions; retest after ${study.retest_days} days)`;
      box.append(h);
      if (study.platform_link) {
        const p = document.createElement("p");
        p.textContent = "Participant-platform link: " + location.origin + study.platform_link;
        box.append(p);
      }
      for (const quota of study.quotas || []) {
        const p = document.createElement("p");
        p.textContent = `Quota on ${quota.question}: ` + Object.entries(quota.cells).map(([code, n]) => `${code} ${quota.taken[code]}/${n}`).join(", ");
        box.append(p);
      }
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const t of ["respondent", "status", "interview", "round 1", "round 2", "retest opens", "consented", "link expires", ""]) {
        const th = document.createElement("th"); th.scope = "col"; th.textContent = t; head.append(th);
      }
      const tbody = table.createTBody();
      for (const p of study.participants) {
        const row = tbody.insertRow();
        const totals = p.totals || { "1": p.total, "2": p.total };
        cell(row, p.respondent); cell(row, p.status || p.phase); cell(row, p.interview_finished ? "finished" : (study.interview.required ? "not finished" : "none"));
        cell(row, `${p.answered["1"]}/${totals["1"]}`); cell(row, `${p.answered["2"]}/${totals["2"]}`);
        cell(row, p.retest_opened_at ? `${p.retest_at} (opened early)` : p.retest_at); cell(row, p.consented_at); cell(row, p.link_expires_at);
        const actions = cell(row, "");
        if (p.phase === "waiting") {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = "Open retest now";
          button.setAttribute("aria-label", `Open retest now for ${p.respondent}`);
          button.addEventListener("click", () => openRetest(study.id, p.respondent, button).catch((e) => showError(String(e))));
          actions.append(button);
        }
      }
      box.append(table);
    }
  }
  document.addEventListener("DOMContentLoaded", () => load().catch((e) => showError(String(e))));
})();
