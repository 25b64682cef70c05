// The operator's study view: each participant's progress through the interview, the surveys and the retest.
"use strict";
(function () {
  const token = decodeURIComponent(location.hash.replace(/^#/, ""));
  const $ = (id) => document.getElementById(id);
  function cell(row, text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); row.append(td); }
  async function load() {
    $("sessions-link").href = "/operator#" + encodeURIComponent(token);
    const response = await fetch("/api/operator/studies", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { $("error").textContent = body.detail || response.statusText; $("error").hidden = false; $("studies").textContent = ""; return; }
    const box = $("studies");
    box.replaceChildren();
    if (!body.studies.length) { box.textContent = "No studies yet: create one with `simulacra study create FILE`."; return; }
    for (const study of body.studies) {
      const h = document.createElement("h2");
      h.textContent = `${study.id}${study.title ? " — " + study.title : ""} (${study.instruments.join(", ")}; ${study.questions} questions; retest after ${study.retest_days} days)`;
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const t of ["respondent", "phase", "interview", "round 1", "round 2", "retest opens", "consented", "link expires"]) {
        const th = document.createElement("th"); th.scope = "col"; th.textContent = t; head.append(th);
      }
      const tbody = table.createTBody();
      for (const p of study.participants) {
        const row = tbody.insertRow();
        cell(row, p.respondent); cell(row, p.phase); cell(row, p.interview_finished ? "finished" : (study.interview.required ? "not finished" : "none"));
        cell(row, `${p.answered["1"]}/${p.total}`); cell(row, `${p.answered["2"]}/${p.total}`);
        cell(row, p.retest_at); cell(row, p.consented_at); cell(row, p.link_expires_at);
      }
      box.append(h, table);
    }
  }
  document.addEventListener("DOMContentLoaded", () => load().catch((e) => { $("error").textContent = String(e); $("error").hidden = false; }));
})();
