/* runyard: the compare page — a table with a column chooser, overlaid scalar charts (live while a
   run is running), parallel coordinates of flags against a scalar (with brushing), a scatter. */
"use strict";

(() => {
  const { el, getJSON, toast } = RY;
  const data = JSON.parse(document.getElementById("compare-data").textContent);
  const color = (i) => RY.palette[i % RY.palette.length];
  const index = new Map(data.runs.map((id, i) => [id, i]));
  const byId = new Map(data.points.map((p) => [p.id, p]));
  const statuses = new Map(data.runs.map((id, i) => [id, data.statuses[i]]));

  document.querySelectorAll(".swatch").forEach((s) => { s.style.background = color(parseInt(s.dataset.i, 10)); });
  const table = document.getElementById("cmp");
  document.getElementById("only-diff").addEventListener("change", (e) => table.classList.toggle("only-diff", e.target.checked));

  /* ---- names: short id + only the flags that differ between the compared runs ---------------- */
  const differing = data.flags.filter((f) => new Set(data.points.map((p) => JSON.stringify(p.flags[f] ?? null))).size > 1);
  function runName(id) {
    const p = byId.get(id);
    const parts = differing.filter((f) => p && p.flags[f] !== undefined).map((f) => `${f}=${RY.fmtVal(p.flags[f])}`);
    return [id.slice(0, 8), ...parts].join(" ");
  }
  /* ---- "group seeds": rows are groups (kept in the URL: ?group=seeds&band=ci|minmax) --------- */
  const groups = data.grouped ? data.groups : null;
  const groupOf = new Map();
  (groups || []).forEach((ids, gi) => ids.forEach((id) => groupOf.set(id, gi)));
  function groupName(gi) {
    const p = byId.get(groups[gi][0]);
    const seeds = new Set(data.seed_flags || []);
    const parts = differing.filter((f) => !seeds.has(f) && p && p.flags[f] !== undefined).map((f) => `${f}=${RY.fmtVal(p.flags[f])}`);
    return `${parts.join(" ") || p.id.slice(0, 8)} (n=${groups[gi].length})`;
  }
  function setParam(name, value) {
    const p = new URLSearchParams(location.search);
    if (value) p.set(name, value); else p.delete(name);
    return location.pathname + "?" + p.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
  }
  document.getElementById("group-seeds").addEventListener("change", (e) => {
    location.assign(setParam("group", e.target.checked ? "seeds" : ""));
  });
  const bandSel = document.getElementById("band");
  if (bandSel) {
    bandSel.value = new URLSearchParams(location.search).get("band") === "minmax" ? "minmax" : "ci";
    bandSel.addEventListener("change", () => {
      history.replaceState(null, "", setParam("band", bandSel.value === "ci" ? "" : bandSel.value));
      draw();
    });
  }

  const legend = document.getElementById("legend");
  if (groups) {
    groups.forEach((ids, gi) => legend.appendChild(el("span", { class: "item", title: ids.join(" ") },
      el("span", { class: "swatch", style: `background:${color(gi)}` }), el("span", { class: "mono", text: groupName(gi) }))));
  } else {
    for (const id of data.runs) {
      legend.appendChild(el("span", { class: "item", title: id },
        el("span", { class: "swatch", style: `background:${color(index.get(id))}` }), el("span", { class: "mono", text: runName(id) })));
    }
  }

  /* a group's series of one scalar: the mean of its runs at each step, and a band (the mean's
     Student-t interval, from the server's t quantiles, or min–max) */
  function groupSeries(key, members, gi) {
    const at = new Map();
    for (const s of members) {
      s.steps.forEach((st, j) => {
        const v = s.values[j];
        if (v === null || v === undefined || !isFinite(v)) return;
        if (!at.has(st)) at.set(st, []);
        at.get(st).push(v);
      });
    }
    const steps = [...at.keys()].sort((a, b) => a - b);
    const values = [], lo = [], hi = [];
    const minmax = bandSel && bandSel.value === "minmax";
    for (const st of steps) {
      const vs = at.get(st), n = vs.length;
      const mean = vs.reduce((a, b) => a + b, 0) / n;
      values.push(mean);
      if (minmax) { lo.push(Math.min(...vs)); hi.push(Math.max(...vs)); continue; }
      if (n < 2) { lo.push(null); hi.push(null); continue; }
      const sd = Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
      const half = data.tq[String(n)] * sd / Math.sqrt(n);
      lo.push(mean - half); hi.push(mean + half);
    }
    return { key, label: groupName(gi), color: color(gi), steps, values, lo, hi,
             downsampled: members.some((s) => s.downsampled) };
  }

  /* ---- column chooser (kept in the URL: ?hide=key,key&pin=key) ------------------------------ */
  const params = new URLSearchParams(location.search);
  const heads = [...table.querySelectorAll("thead tr.names th[data-key]")];
  const keys = heads.map((h) => h.dataset.key);
  const listParam = (n) => (params.get(n) || "").split(",").filter(Boolean);
  // by default: no start time (the table is about differences), and no label that only repeats the flags
  const labelRepeats = data.points.every((p) => RY.labelRepeatsFlags(p.label, p.flags));
  let hidden = new Set(params.has("hide") ? listParam("hide") : keys.filter((k) => k === "attr:started" || (k === "attr:label" && labelRepeats)));
  let pinned = listParam("pin").filter((k) => keys.includes(k));
  function applyColumns() {
    const rowsEl = table.querySelectorAll("tr");
    keys.forEach((k, i) => {
      const off = hidden.has(k);
      rowsEl.forEach((tr) => { const c = tr.children[i + 1]; if (c) c.classList.toggle("col-off", off); });
    });
    // pinned columns stick next to the run column
    table.querySelectorAll(".pinned").forEach((c) => { c.classList.remove("pinned"); c.style.left = ""; });
    let left = table.querySelector("thead tr.names th.run").offsetWidth;
    for (const k of pinned) {
      const i = keys.indexOf(k);
      if (i < 0 || hidden.has(k)) continue;
      let w = 0;
      rowsEl.forEach((tr) => { const c = tr.children[i + 1]; if (c) { c.classList.add("pinned"); c.style.left = left + "px"; w = Math.max(w, c.offsetWidth); } });
      left += w;
    }
    const p = new URLSearchParams(location.search);
    p.set("hide", [...hidden].join(","));
    if (pinned.length) p.set("pin", pinned.join(",")); else p.delete("pin");
    const url = location.pathname + "?" + p.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
    if (url !== location.pathname + location.search) history.replaceState(null, "", url);  // only a change
  }
  const panel = document.getElementById("cols-panel");
  const colsBtn = document.getElementById("cols-btn");
  function renderPanel() {
    panel.textContent = "";
    heads.forEach((h, i) => {
      const k = keys[i];
      const box = el("input", { type: "checkbox", id: `col-${i}` });
      box.checked = !hidden.has(k);
      box.addEventListener("change", () => { if (box.checked) hidden.delete(k); else hidden.add(k); applyColumns(); });
      const pin = el("button", { type: "button", class: "ghost small pin", text: "Pin", "aria-pressed": String(pinned.includes(k)),
                                 "aria-label": `Pin ${h.textContent}` });
      pin.addEventListener("click", () => {
        pinned = pinned.includes(k) ? pinned.filter((x) => x !== k) : [...pinned, k];
        pin.setAttribute("aria-pressed", String(pinned.includes(k)));
        applyColumns();
      });
      panel.appendChild(el("div", { class: "col-item" }, box, el("label", { for: `col-${i}`, text: `${k.split(":")[0]}: ${h.textContent}` }), pin));
    });
  }
  colsBtn.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    colsBtn.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) { renderPanel(); panel.querySelector("input")?.focus(); }
  });
  applyColumns();

  /* ---- overlaid charts (live while a compared run is running) -------------------------------- */
  let charts = new Map();
  let byKey = new Map();
  const logBox = document.getElementById("chart-log");
  const prefs = RYCharts.bindControls(document.querySelector(".chart-toolbar"),
    (w) => charts.forEach((c) => c.setSmoothing(w)),
    (mode) => { prefs.xMode = mode; loadCharts(true); });

  async function loadCharts(redraw) {
    const box = document.getElementById("charts");
    try {
      const times = prefs.xMode !== "step" && !groups ? "&times=1" : "";
      const j = await getJSON(`/api/scalars?points=1000&runs=${data.runs.join(",")}${times}`);
      const next = new Map();
      for (const run of j.runs) {
        statuses.set(run.id, run.status);
        const row = table.querySelector(`tr[data-id="${run.id}"] .c-status`);
        if (row && row.textContent.trim() !== run.status) row.replaceChildren(RY.statusPill(run.status));
        for (const s of run.series) {
          if (!next.has(s.key)) next.set(s.key, []);
          // charts name runs by short id (their colour is in the legend above, with the differing flags)
          next.get(s.key).push(Object.assign({}, s, { run: run.id, label: run.id.slice(0, 8), color: color(index.get(run.id) || 0) }));
        }
      }
      const same = !redraw && next.size === byKey.size && [...next.keys()].every((k) => byKey.has(k) && byKey.get(k).length === next.get(k).length);
      byKey = next;
      if (same) { for (const [k, c] of charts) c.setSeries(shown(k), false); } else draw();
    } catch (e) { box.replaceChildren(el("div", { class: "empty", text: "Could not load scalars: " + e.message })); }
  }

  /* what a chart draws: each run's series, or each group's mean and band */
  function shown(key) {
    const series = byKey.get(key);
    if (!groups) return series;
    return groups.map((ids, gi) => [gi, series.filter((s) => groupOf.get(s.run) === gi)])
      .filter(([, members]) => members.length).map(([gi, members]) => groupSeries(key, members, gi));
  }

  function draw() {
    const box = document.getElementById("charts");
    charts.forEach((c) => c.destroy());
    charts = new Map();
    box.textContent = "";
    if (!byKey.size) { box.appendChild(el("div", { class: "empty", text: "These runs logged no scalars." })); return; }
    for (const key of [...byKey.keys()].sort()) {
      const series = shown(key);
      const plot = el("div", { class: "plot" });
      const down = series.some((s) => s.downsampled);
      box.appendChild(el("div", { class: "chart-card" },
        el("h3", {}, el("span", { text: key }), el("span", { class: "note", text: down ? "downsampled (min/max kept)" : "" })), plot));
      charts.set(key, RYCharts.chartFor(plot, { series, log: logBox.checked, height: 220, smoothing: prefs.smoothing,
                                                xMode: groups ? "step" : prefs.xMode,
                                                legend: series.length <= 4 }));
    }
  }
  logBox.addEventListener("change", () => charts.forEach((c) => c.setLog(logBox.checked)));

  const live = () => [...statuses.values()].some((s) => s === "running" || s === "pending");
  async function follow() {
    if (!live()) return;
    await loadCharts(false);
    setTimeout(follow, 1000);
  }

  /* ---- parallel coordinates and scatter ------------------------------------------------------ */
  const pcSel = document.getElementById("pc-scalar");
  const xSel = document.getElementById("sc-x");
  const ySel = document.getElementById("sc-y");
  const flagAxes = differing.length ? differing : data.flags;

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
  const clearBtn = document.getElementById("pc-clear");
  const pcCount = document.getElementById("pc-count");
  let pcSvg = null;

  function onBrush(kept) {
    clearBtn.hidden = !kept;
    pcCount.textContent = kept ? `${kept.size} of ${data.runs.length} runs in range` : "";
    table.querySelectorAll("tbody tr[data-id]").forEach((tr) => tr.classList.toggle("brushed-out", !!kept && !kept.has(tr.dataset.id)));
  }
  clearBtn.addEventListener("click", () => pcSvg && pcSvg.clearBrushes());

  function drawParcoords() {
    const box = document.getElementById("parcoords");
    const s = pcSel.value;
    if (!data.flags.length || !s) { box.replaceChildren(el("div", { class: "empty", text: data.flags.length ? "These runs have no scalars." : "These runs have no flags." })); return; }
    const dims = flagAxes.map((f) => ({ name: f, values: data.points.map((p) => p.flags[f]) }));
    dims.push({ name: s, values: data.points.map((p) => p.scalars[s]) });
    onBrush(null);
    pcSvg = RYCharts.parcoords(box, dims, data.points.map((p) => ({ id: p.id, label: p.label })),
                               { onClick: open, onBrush, legend: document.getElementById("pc-legend") });
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
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { drawParcoords(); drawScatter(); }, 150);
  });

  drawParcoords();
  drawScatter();
  loadCharts(true).then(() => { if (live()) setTimeout(follow, 1000); }).catch((e) => toast(e.message, true));
})();
