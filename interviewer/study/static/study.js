// The respondent's survey page: one question at a time, each answer saved as it is given.
// The link's token is in the URL fragment and sent as a bearer token; the server decides the phase
// (interview first, surveys, waiting for the retest, retest, done) and which question is asked now,
// so a reload always resumes at the first unanswered question.
"use strict";

(function () {
  const token = decodeURIComponent(location.hash.replace(/^#(t=)?/, ""));
  const $ = (id) => document.getElementById(id);
  const screens = ["loading", "link-problem", "consent-screen", "question-screen", "waiting-screen", "done-screen",
    "stopped-screen", "withdrawn-screen", "full-screen"];
  let redirected = false;
  let current = null;   // the question shown
  let wave = null;
  let busy = false;

  function show(id) {
    for (const s of screens) $(s).hidden = s !== id;
    $("stop-box").hidden = !["consent-screen", "question-screen", "waiting-screen", "done-screen", "stopped-screen", "full-screen"].includes(id);
    const heading = $(id).querySelector("h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }

  class ApiError extends Error {
    constructor(status, code, detail) { super(detail); this.status = status; this.code = code; }
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
    let lastError = null;
    for (let attempt = 0; attempt < 4; attempt++) {
      let response;
      try {
        response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
      } catch (networkError) {
        lastError = networkError;
        await new Promise((r) => setTimeout(r, 800 * Math.pow(2, attempt)));
        continue;
      }
      let body = {};
      try { body = await response.json(); } catch (e) { /* not JSON */ }
      if (response.ok) return body;
      throw new ApiError(response.status, body.error || "http_" + response.status, body.detail || response.statusText);
    }
    throw lastError || new Error("The connection was lost. Your saved answers are kept; reload to continue.");
  }

  function post(path, data) {
    return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
  }

  function setError(message, where = "error") {
    $(where).textContent = message || "";
    $(where).hidden = !message;
  }

  function el(tag, attrs = {}, text = null) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== null) node.textContent = text;
    return node;
  }

  // Plain text from the study file as paragraphs ("- " lines as a list); never interpreted as HTML.
  function renderText(box, text) {
    box.replaceChildren();
    for (const block of String(text || "").split(/\n\s*\n/)) {
      const lines = block.split("\n").map((l) => l.trim()).filter(Boolean);
      if (!lines.length) continue;
      if (lines.every((l) => /^[-*•] /.test(l))) {
        const list = el("ul");
        for (const l of lines) list.append(el("li", {}, l.replace(/^[-*•] /, "")));
        box.append(list);
      } else {
        box.append(el("p", {}, lines.join(" ")));
      }
    }
  }

  // A participant-platform person: the completion code and the way back to the platform.
  function renderCompletion(screen, completion, justFinished) {
    const box = $(screen).querySelector(".completion");
    box.replaceChildren();
    box.hidden = !completion || !(completion.code || completion.url);
    if (box.hidden) return;
    if (completion.code) {
      const p = el("p", {}, "Your completion code: ");
      p.append(el("strong", { id: screen + "-code", class: "code" }, completion.code));
      box.append(p);
    }
    if (completion.url) {
      const p = el("p");
      p.append(el("a", { href: completion.url, id: screen + "-return", class: "button primary", rel: "noreferrer" },
        "Finish and return to the study platform"));
      box.append(p);
      if (justFinished && !redirected) {
        redirected = true;
        box.append(el("p", { class: "hint" }, "You will be taken back to the study platform in a few seconds."));
        setTimeout(() => { location.assign(completion.url); }, 3000);
      }
    }
  }

  function fmtNumber(x) { return Number.isInteger(x) ? String(x) : String(Math.round(x * 1000) / 1000); }

  function renderQuestion(state) {
    const q = state.question;
    current = q;
    wave = state.wave;
    const round = state.wave === 2 ? "Second round · " : "";
    $("progress").textContent = `${round}${q.instrument_title} · question ${state.position} of ${state.total}`;
    $("question-text").textContent = q.text;
    $("stimulus").hidden = !q.stimulus;
    $("stimulus").textContent = q.stimulus || "";
    $("stakes").hidden = !q.stakes;
    $("stakes").textContent = q.stakes ? "Stakes: " + q.stakes : "";
    const box = $("answer-input");
    box.replaceChildren();
    if (q.kind === "categorical" || q.kind === "ordinal") {
      const list = el("ul", { class: "options", role: "radiogroup", "aria-labelledby": "question-text" });
      q.options.forEach((opt, i) => {
        const id = `opt-${i}`;
        const li = el("li");
        const label = el("label", { for: id });
        const input = el("input", { type: "radio", name: "answer", id, value: opt.code });
        label.append(input, el("span", {}, opt.label));
        li.append(label);
        list.append(li);
      });
      box.append(list);
    } else if (q.kind === "numeric") {
      const unit = q.unit ? ` ${q.unit}` : "";
      const hint = `A number from ${fmtNumber(q.min)} to ${fmtNumber(q.max)}${unit}${q.integer ? " (whole numbers)" : ""}.`;
      const label = el("label", { for: "number-answer" }, "Your answer");
      const input = el("input", { type: "number", id: "number-answer", name: "answer", min: q.min, max: q.max,
        step: q.integer ? "1" : "any", inputmode: q.integer ? "numeric" : "decimal", "aria-describedby": "number-hint" });
      box.append(label, el("br"), input, el("p", { id: "number-hint", class: "hint" }, hint));
    } else {
      const label = el("label", { for: "open-answer" }, "Your answer");
      const input = el("textarea", { id: "open-answer", name: "answer", rows: "4", maxlength: String(q.max_chars || 2000) });
      box.append(label, el("br"), input);
    }
    setError("");
    show("question-screen");
    const first = box.querySelector("input, textarea");
    $("question-text").focus();
    if (first && q.kind !== "categorical" && q.kind !== "ordinal") first.focus();
  }

  function readValue() {
    const q = current;
    if (q.kind === "categorical" || q.kind === "ordinal") {
      const checked = document.querySelector('input[name="answer"]:checked');
      if (!checked) throw new Error("Please choose one of the options.");
      return checked.value;
    }
    if (q.kind === "numeric") {
      const raw = $("number-answer").value.trim();
      if (!raw) throw new Error(`Please enter a number from ${fmtNumber(q.min)} to ${fmtNumber(q.max)}.`);
      return raw;   // checked by the server with the instrument's own rules
    }
    const text = $("open-answer").value.trim();
    if (!text) throw new Error("Please type an answer.");
    return text;
  }

  function render(state, justAnswered = false) {
    if (state.phase === "full") { show("full-screen"); return; }
    if (state.phase === "interview") { location.replace("/interview#" + encodeURIComponent(token)); return; }
    if (!state.consented) { renderText($("consent-text"), state.consent_text); show("consent-screen"); return; }
    if (state.phase === "survey" || state.phase === "retest") { renderQuestion(state); return; }
    if (state.phase === "waiting") {
      const when = state.retest_at ? new Date(state.retest_at).toLocaleString() : "a date the study team will tell you";
      renderText($("retest-invitation"), String(state.retest_invitation || "").split("{retest_at}").join(when));
      renderCompletion("waiting-screen", state.completion, justAnswered);
      show("waiting-screen");
      return;
    }
    if (state.phase === "done") renderCompletion("done-screen", state.completion, justAnswered);
    show(state.phase === "stopped" ? "stopped-screen" : "done-screen");
  }

  async function load() {
    try {
      render(await api("/api/study/session"));
    } catch (error) {
      $("link-problem-text").textContent = error.message;
      show("link-problem");
    }
  }

  async function submit(event) {
    event.preventDefault();
    if (busy || !current) return;
    let value;
    try { value = readValue(); } catch (error) { setError(error.message); return; }
    busy = true;
    $("next").disabled = true;
    try {
      const state = await post("/api/study/answer", { instrument: current.instrument, question: current.id, wave, value });
      $("saved").hidden = false;
      setTimeout(() => { $("saved").hidden = true; }, 1200);
      render(state, true);
    } catch (error) {
      if (["already_answered", "wrong_wave", "not_chosen"].includes(error.code)) { await load(); }
      else setError(error.message);
    } finally {
      busy = false;
      $("next").disabled = false;
    }
  }

  async function init() {
    if (!token) { show("link-problem"); return; }
    $("answer-form").addEventListener("submit", submit);
    $("consent-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try { await post("/api/session/consent", {}); await load(); }
      catch (error) { $("link-problem-text").textContent = error.message; show("link-problem"); }
    });
    $("stop").addEventListener("click", async () => {
      if (!window.confirm("Stop here? Nothing more will be asked; what you answered is kept.")) return;
      try { render(await post("/api/study/stop", { confirm: true })); } catch (error) { setError(error.message, "stop-error"); }
    });
    $("withdraw").addEventListener("click", async () => {
      if (!window.confirm("Delete everything you gave and withdraw? This cannot be undone.")) return;
      try { await post("/api/session/withdraw", { confirm: true }); show("withdrawn-screen"); $("stop-box").hidden = true; }
      catch (error) { setError(error.message, "stop-error"); }
    });
    window.addEventListener("hashchange", () => location.reload());
    await load();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
