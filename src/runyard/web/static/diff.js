/* runyard: diff page and diff report — "only differences" toggles. */
"use strict";
document.querySelectorAll("input.only-changed").forEach((box) => {
  const target = document.getElementById(box.dataset.target);
  const table = target && target.querySelector("table");
  if (!table) return;
  box.checked = table.classList.contains("only-changed");
  box.addEventListener("change", () => table.classList.toggle("only-changed", box.checked));
});
