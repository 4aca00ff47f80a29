/* runyard: the compare page — differing columns, overlaid scalar charts, parallel coordinates
   of flags against a scalar, and a scatter of one flag (or scalar) against one scalar. */
"use strict";

(() => {
  const { el, getJSON, toast } = RY;
  const data = JSON.parse(document.getElementById("compare-data").textContent);
  const color = (i) => RY.palette[i % RY.palette.length];
  const index = new Map(data.runs.map((id, i) => [id, i]));
  const byId = new Map(data.points.map((p) => [p.id, p]));

  document.querySelectorAll(".swatch").forEach((s) => { s.style.background = color(parseInt(s.dataset.i, 10)); });
  const table = document.getElementById("cmp");
  document.getElementById("only-diff").addEventListener("change", (e) => table.classList.toggle("only-diff", e.target.checked));

  /* ---- overlaid charts ----------------------------------------------------------------------- */
  let charts = [];
  let byKey = new Map();
  const logBox = document.getElementById("chart-log");

  function runLabel(id) {
    const p = byId.get(id);
    return id.slice(0, 8) + (p && p.label ? " " + (p.label.length > 40 ? p.label.slice(0, 39) + "…" : p.label) : "");
  }

  async function loadCharts() {
    const box = document.getElementById("charts");
    try {
      const j = await getJSON(`/api/scalars?points=1000&runs=${data.runs.join(",")}`);
      byKey = new Map();
      for (const run of j.runs) {
        for (const s of run.series) {
          if (!byKey.has(s.key)) byKey.set(s.key, []);
          byKey.get(s.key).push(Object.assign({}, s, { label: runLabel(run.id), color: color(index.get(run.id) || 0) }));
        }
      }
      draw();
    } catch (e) { box.replaceChildren(el("div", { class: "empty", text: "Could not load scalars: " + e.message })); }
  }

  function draw() {
    const box = document.getElementById("charts");
    charts.forEach((c) => c.destroy());
    charts = [];
    box.textContent = "";
    if (!byKey.size) { box.appendChild(el("div", { class: "empty", text: "These runs logged no scalars." })); return; }
    for (const key of [...byKey.keys()].sort()) {
      const series = byKey.get(key);
      const plot = el("div", { class: "plot" });
      const down = series.some((s) => s.downsampled);
      box.appendChild(el("div", { class: "chart-card" },
        el("h3", {}, el("span", { text: key }), el("span", { class: "note", text: down ? "downsampled (min/max kept)" : "" })), plot));
      charts.push(RYCharts.lineChart(plot, { series, log: logBox.checked, height: 220 }));
    }
  }
  logBox.addEventListener("change", () => charts.forEach((c) => c.setLog(logBox.checked)));

  /* ---- parallel coordinates and scatter ------------------------------------------------------ */
  const pcSel = document.getElementById("pc-scalar");
  const xSel = document.getElementById("sc-x");
  const ySel = document.getElementById("sc-y");
  const same = (name) => new Set(data.points.map((p) => JSON.stringify(p.flags[name] ?? null))).size <= 1;
  const varying = data.flags.filter((f) => !same(f));
  const flagAxes = varying.length ? varying : data.flags;

  function pick(names) {
    return names.find((n) => /test_acc/i.test(n)) || names.find((n) => /val_acc/i.test(n)) ||
           names.find((n) => /acc/i.test(n)) || names.find((n) => /loss/i.test(n)) || names[0];
  }
  for (const s of data.scalars) { pcSel.appendChild(el("option", { value: s, text: s })); ySel.appendChild(el("option", { value: s, text: s })); }
  const xg1 = el("optgroup", { label: "Flags" }), xg2 = el("optgroup", { label: "Scalars" });
  for (const f of data.flags) xg1.appendChild(el("option", { value: "flag:" + f, text: f }));
  for (const s of data.scalars) xg2.appendChild(el("option", { value: "scalar:" + s, text: s }));
  xSel.appendChild(xg1); xSel.appendChild(xg2);
  const best = pick(data.scalars);
  if (best) { pcSel.value = best; ySel.value = best; }
  const xDefault = flagAxes.find((f) => /units|hidden|size|layers/i.test(f)) || flagAxes[0];
  if (xDefault) xSel.value = "flag:" + xDefault;

  const open = (p) => { location.href = `/run/${p.id}`; };

  function drawParcoords() {
    const box = document.getElementById("parcoords");
    const s = pcSel.value;
    if (!data.flags.length || !s) { box.replaceChildren(el("div", { class: "empty", text: data.flags.length ? "These runs have no scalars." : "These runs have no flags." })); return; }
    const dims = flagAxes.map((f) => ({ name: f, values: data.points.map((p) => p.flags[f]) }));
    dims.push({ name: s, values: data.points.map((p) => p.scalars[s]) });
    RYCharts.parcoords(box, dims, data.points.map((p) => ({ id: p.id, label: p.label })), { onClick: open });
  }

  function drawScatter() {
    const box = document.getElementById("scatter");
    const xv = xSel.value, y = ySel.value;
    if (!xv || !y) { box.replaceChildren(el("div", { class: "empty", text: "Nothing to plot." })); return; }
    const [kind, name] = [xv.slice(0, xv.indexOf(":")), xv.slice(xv.indexOf(":") + 1)];
    const pts = data.points.map((p) => ({
      id: p.id, label: p.label, x: kind === "flag" ? p.flags[name] : p.scalars[name], y: p.scalars[y],
      color: color(index.get(p.id) || 0),
    }));
    RYCharts.scatter(box, pts, { xName: name, yName: y, onClick: open });
  }

  pcSel.addEventListener("change", drawParcoords);
  xSel.addEventListener("change", drawScatter);
  ySel.addEventListener("change", drawScatter);
  let resizeTimer = null;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { drawParcoords(); drawScatter(); }, 150); });

  drawParcoords();
  drawScatter();
  loadCharts().catch((e) => toast(e.message, true));
})();
