// On the interview operator page: a link to the study operator page (the same operator token, in the fragment).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const heading = document.querySelector("main h1");
  if (!heading || document.getElementById("studies-link")) return;
  const p = document.createElement("p");
  const a = document.createElement("a");
  a.id = "studies-link";
  a.textContent = "Studies: participants, surveys and retests";
  const update = () => { a.href = "/study/operator" + location.hash; };
  update();
  window.addEventListener("hashchange", update);
  p.append(a);
  heading.after(p);
});
