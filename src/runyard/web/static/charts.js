/* runyard charts: scalar line charts (uPlot), parallel coordinates and scatter plots (SVG).
   Used by the run and compare pages and by the HTML reports. */
"use strict";

const RYCharts = (() => {
  const SVGNS = "http://www.w3.org/2000/svg";

  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmtTick(v) {
    if (v === null || v === undefined) return "";
    const a = Math.abs(v);
    if (a >= 1e4 && a < 1e12) {
      const [d, u] = a >= 1e9 ? [1e9, "G"] : a >= 1e6 ? [1e6, "M"] : [1e3, "k"];
      return String(parseFloat((v / d).toPrecision(4))) + u;
    }
    if (a !== 0 && (a < 1e-3 || a >= 1e12)) return v.toExponential(1).replace(".0e", "e");
    return String(parseFloat(v.toPrecision(4)));
  }

  function niceTicks(lo, hi, count) {
    if (!(isFinite(lo) && isFinite(hi))) return [];
    if (lo === hi) return [lo];
    const span = hi - lo;
    const step0 = Math.pow(10, Math.floor(Math.log10(span / count)));
    const err = (count * step0) / span;
    const step = err <= 0.15 ? step0 * 10 : err <= 0.35 ? step0 * 5 : err <= 0.75 ? step0 * 2 : step0;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(parseFloat(v.toPrecision(12)));
    return out;
  }

  /* ---- line charts ------------------------------------------------------------------------- */

  /* TensorBoard's smoothing: an exponential moving average, debiased so that the first points
     are not pulled toward zero. weight 0 = raw, 0.99 = very smooth. Non-finite values pass. */
  function smooth(values, weight) {
    if (!weight) return values;
    const out = new Array(values.length);
    let last = 0, n = 0, w = 1;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined || !isFinite(v)) { out[i] = v; continue; }
      last = last * weight + (1 - weight) * v;
      n++; w *= weight;
      out[i] = last / (1 - w);
    }
    return out;
  }

  const INT_INCRS = [];
  for (let e = 0; e <= 12; e++) for (const m of [1, 2, 5]) INT_INCRS.push(m * Math.pow(10, e));

  function fmtSeconds(v) {
    const a = Math.abs(v);
    if (a < 120) return parseFloat(v.toPrecision(3)) + "s";
    if (a < 7200) return parseFloat((v / 60).toPrecision(3)) + "m";
    if (a < 172800) return parseFloat((v / 3600).toPrecision(3)) + "h";
    return parseFloat((v / 86400).toPrecision(3)) + "d";
  }

  /* x values of a series for an x axis mode: "step", "relative" (seconds since the series' first
     point) or "wall" (seconds since the epoch). Falls back to steps without wall times. */
  function xsOf(s, mode) {
    if (mode === "step" || !s.times || s.times.length !== s.steps.length) return s.steps;
    if (mode === "wall") return s.times;
    const t0 = s.t0 !== undefined ? s.t0 : s.times[0];
    return s.times.map((t) => t - t0);
  }

  function themeColor(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  /* cfg: {series: [{label, color, steps, values, times?}], log, height, smoothing, xMode,
           legend (default true), onZoom(min, max), onReset()} */
  function lineChart(container, cfg) {
    let log = !!cfg.log;
    let current = cfg.series;
    let weight = cfg.smoothing || 0;
    let xMode = cfg.xMode || "step";
    /* the x axis drawn: the one chosen, or steps when a series has no wall times to show */
    const shownMode = () => (xMode === "step" || current.every((s) => s.times && s.times.length === s.steps.length)
      ? xMode : "step");

    function build() {
      const xMode = shownMode();
      const fix = (vals) => (log ? vals.map((v) => (v === null || v <= 0 ? null : v)) : vals);
      const parts = [], opts = [], bands = [];
      for (const s of current) {
        const xs = xsOf(s, xMode);
        if (weight > 0) {
          parts.push([xs, fix(s.values)]);
          opts.push({ label: s.label + " (raw)", stroke: s.color + "40", width: 1, spanGaps: true, raw: true,
                      points: { show: false }, value: (u, v) => (v === null || v === undefined ? "–" : RY.fmtNum(v)) });
          parts.push([xs, fix(smooth(s.values, weight))]);
        } else parts.push([xs, fix(s.values)]);
        opts.push({ label: s.label, stroke: s.color, width: 1.5, spanGaps: true,
                    points: { show: s.steps.length <= 60 && weight === 0, size: 5, fill: s.color },
                    value: (u, v) => (v === null || v === undefined ? "–" : RY.fmtNum(v)) });
        if (s.lo && s.hi) { // a shaded band (a group's interval or min–max) between two invisible series
          const band = { label: s.label + " (band)", stroke: "transparent", width: 0, spanGaps: true, raw: true,
                         points: { show: false }, value: (u, v) => (v === null || v === undefined ? "–" : RY.fmtNum(v)) };
          parts.push([xs, fix(s.hi)]); opts.push(Object.assign({}, band));
          parts.push([xs, fix(s.lo)]); opts.push(Object.assign({}, band));
          bands.push({ series: [parts.length - 1, parts.length], fill: s.color + "33" });
        }
      }
      // one x array for all (one series, raw + smoothed): aligned as is; else let uPlot merge them
      const data = parts.every((p) => p[0] === parts[0][0]) ? [parts[0][0], ...parts.map((p) => p[1])] : uPlot.join(parts);
      return { data, opts, bands };
    }

    function intSteps() {
      return shownMode() === "step" && current.every((s) => s.steps.every((v) => Number.isInteger(v)));
    }

    function makeOpts(seriesOpts, bands) {
      const xMode = shownMode();
      const axisStyle = { stroke: themeColor("--muted", "#687385"), grid: { stroke: themeColor("--grid", "#eef0f3"), width: 1 },
                          ticks: { stroke: themeColor("--line", "#e3e6eb"), width: 1 }, font: "11px system-ui, sans-serif" };
      const xAxis = Object.assign({}, axisStyle);
      if (xMode === "relative") xAxis.values = (u, vals) => vals.map(fmtSeconds);
      else if (xMode === "step") {
        xAxis.values = (u, vals) => vals.map(fmtTick);
        if (intSteps()) xAxis.incrs = INT_INCRS;
      }
      const xName = xMode === "step" ? "step" : xMode === "wall" ? "time" : "time since start";
      return {
        width: Math.max(240, container.clientWidth || 600),
        height: cfg.height || 240,
        scales: { x: { time: xMode === "wall" }, y: log ? { distr: 3, log: 10 } : { distr: 1 } },
        series: [
          { label: xName, value: (u, v) => (v === null || v === undefined ? "" :
            xMode === "wall" ? RY.fmtTime(v * 1e6) : xMode === "relative" ? fmtSeconds(v) : String(v)) },
          ...seriesOpts,
        ],
        axes: [xAxis, Object.assign({}, axisStyle, { size: 56, values: (u, vals) => vals.map(fmtTick) })],
        cursor: {
          drag: { x: true, y: false, setScale: true },
          bind: {
            dblclick: (u, targ, handler) => (e) => {
              if (cfg.onReset) { cfg.onReset(); return null; }
              return handler(e);
            },
          },
        },
        legend: { show: cfg.legend !== false, live: true },
        bands: bands || [],
        hooks: {
          setSelect: [(u) => {
            if (u.select.width > 3 && cfg.onZoom && xMode === "step") {
              const min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
              setTimeout(() => cfg.onZoom(min, max), 0);
            }
          }],
        },
      };
    }

    let plot = null, layout = "";
    const layoutOf = () => `${weight > 0}|${shownMode()}|${log}|${current.length}|${current.filter((s) => s.lo && s.hi).length}`;
    function hideRawLegend(opts) {
      const rowsEl = container.querySelectorAll(".u-legend tr.u-series");
      opts.forEach((o, i) => { if (o.raw && rowsEl[i + 1]) rowsEl[i + 1].style.display = "none"; });
    }
    function create() {
      const { data, opts, bands } = build();
      if (plot) plot.destroy();
      plot = new uPlot(makeOpts(opts, bands), data, container);
      layout = layoutOf();
      hideRawLegend(opts);
    }
    /* new data (or smoothing): setData when the series layout is unchanged (fast), else rebuild */
    function update(keepScale) {
      const want = layoutOf();
      if (want !== layout) { create(); return; }
      const { data } = build();
      const x = { min: plot.scales.x.min, max: plot.scales.x.max };
      plot.setData(data, !keepScale);
      if (keepScale) plot.setScale("x", x);
    }
    create();
    let lastW = container.clientWidth;
    const ro = new ResizeObserver(() => {
      const w = container.clientWidth;
      if (w && Math.abs(w - lastW) > 2) { lastW = w; plot.setSize({ width: Math.max(240, w), height: cfg.height || 240 }); }
    });
    ro.observe(container);
    const api = {
      get plot() { return plot; },
      get smoothing() { return weight; },
      get xMode() { return xMode; },
      setLog(v) { log = !!v; create(); },
      setSmoothing(w) { weight = Math.max(0, Math.min(0.99, +w || 0)); update(true); },
      setXMode(m) { xMode = m; create(); },
      setSeries(series, keepScale) { current = series; update(keepScale); },
      destroy() { ro.disconnect(); plot.destroy(); },
    };
    container.ryChart = api; // the chart of a plot box (tests and benchmarks read it)
    return api;
  }

  /* A scalar logged once: its value, not a lone dot on an empty axis. */
  function valueCard(container, series) {
    container.textContent = "";
    const box = RY.el("div", { class: "value-card" });
    for (const s of series) {
      box.appendChild(RY.el("div", { class: "value" },
        RY.el("span", { class: "swatch", style: `background:${s.color}` }),
        series.length > 1 ? RY.el("span", { class: "who", text: s.label }) : null,
        RY.el("span", { class: "big", text: RY.fmtNum(s.values[0]) }),
        RY.el("span", { class: "muted small", text: `at step ${s.steps[0]}` })));
    }
    container.appendChild(box);
    return { setLog() {}, setSmoothing() {}, setXMode() {}, setSeries(ss) { valueCard(container, ss); }, destroy() {} };
  }

  /* A chart for series: a value card while every series has one point, else a line chart. A
     card whose series grow (a running run's second point) turns into the line chart, with the
     settings given to it meanwhile. */
  function chartFor(container, cfg) {
    const single = (ss) => ss.length && ss.every((s) => s.steps.length === 1 && (s.n === undefined || s.n === 1));
    if (!single(cfg.series)) return lineChart(container, cfg);
    const settings = Object.assign({}, cfg);
    let inner = valueCard(container, cfg.series), grown = false;
    return {
      get plot() { return inner.plot; },
      setLog(v) { settings.log = !!v; inner.setLog(v); },
      setSmoothing(w) { settings.smoothing = w; inner.setSmoothing(w); },
      setXMode(m) { settings.xMode = m; inner.setXMode(m); },
      setSeries(series, keepScale) {
        if (!grown && !single(series)) {
          grown = true;
          inner.destroy();
          container.textContent = "";
          inner = lineChart(container, Object.assign(settings, { series }));
        } else inner.setSeries(series, keepScale);
      },
      destroy() { inner.destroy(); },
    };
  }

  /* The smoothing and x-axis controls shared by every page with charts; settings persist. */
  function prefs() {
    let w = 0, x = null;
    try { w = parseFloat(localStorage.getItem("runyard.smoothing")); x = localStorage.getItem("runyard.xaxis"); } catch (e) { /* no storage */ }
    if (!(w >= 0 && w <= 0.99)) w = 0;
    return { smoothing: w, xMode: ["step", "relative", "wall"].includes(x) ? x : "step" };
  }

  function bindControls(root, onSmoothing, onXMode) {
    const range = root.querySelector(".smoothing input[type=range]");
    const num = root.querySelector(".smoothing output");
    const xSel = root.querySelector("select.xaxis");
    const p = prefs();
    if (range) {
      range.value = String(p.smoothing);
      if (num) num.textContent = p.smoothing.toFixed(2);
      range.addEventListener("input", () => {
        const w = parseFloat(range.value);
        if (num) num.textContent = w.toFixed(2);
        try { localStorage.setItem("runyard.smoothing", String(w)); } catch (e) { /* private mode */ }
        onSmoothing(w);
      });
    }
    if (xSel) {
      xSel.value = p.xMode;
      xSel.addEventListener("change", () => {
        try { localStorage.setItem("runyard.xaxis", xSel.value); } catch (e) { /* private mode */ }
        onXMode(xSel.value);
      });
    }
    return p;
  }

  /* ---- tooltips ------------------------------------------------------------------------------ */

  let tip = null;
  function showTip(e, text) {
    if (!tip) { tip = document.createElement("div"); tip.className = "viz-tip"; document.body.appendChild(tip); }
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = Math.min(window.innerWidth - 260, e.clientX + 12) + "px";
    tip.style.top = e.clientY + 12 + "px";
  }
  function hideTip() { if (tip) tip.style.display = "none"; }

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  function scaleFor(values, lo, hi, pad) {
    const present = values.filter((v) => v !== null && v !== undefined);
    if (present.length && present.every(isNum)) {
      let mn = Math.min(...present), mx = Math.max(...present);
      if (mn === mx) { mn -= Math.abs(mn) * 0.1 || 1; mx += Math.abs(mx) * 0.1 || 1; }
      if (pad) { const d = (mx - mn) * pad; mn -= d; mx += d; }
      const f = (v) => (isNum(v) ? hi - ((v - mn) / (mx - mn)) * (hi - lo) : null);
      return { kind: "num", f, ticks: niceTicks(mn, mx, 5).map((t) => [f(t), fmtTick(t)]), mn, mx };
    }
    const cats = [...new Set(present.map((v) => RY.fmtVal(v)))].sort((a, b) => {
      const na = parseFloat(a), nb = parseFloat(b);
      return isFinite(na) && isFinite(nb) ? na - nb : a.localeCompare(b);
    });
    const pos = new Map(cats.map((c, i) => [c, hi - ((i + 0.5) / cats.length) * (hi - lo)]));
    const f = (v) => (v === null || v === undefined ? null : pos.get(RY.fmtVal(v)));
    const every = Math.ceil(cats.length / 12);
    return { kind: "cat", f, ticks: cats.filter((c, i) => i % every === 0).map((c) => [pos.get(c), c]), cats };
  }

  function colorScale(values) {
    const nums = values.filter(isNum);
    const mn = Math.min(...nums), mx = Math.max(...nums);
    return (v) => {
      if (!isNum(v)) return "#b9c0cb";
      const t = mx === mn ? 0.5 : (v - mn) / (mx - mn);
      const hue = 230 - t * 200; // blue (low) → orange (high)
      return `hsl(${hue}, 75%, ${48 - Math.abs(t - 0.5) * 8}%)`;
    };
  }

  function clip(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  /* ---- parallel coordinates ------------------------------------------------------------------ */

  /* dims: [{name, values}] (one value per item; the last dim colours the lines); items: [{id, label}].
     opts: {height, onClick(item), onBrush(Set of ids kept, or null when no brush), legend (element)}.
     Axes stay at least 110 px apart (the container scrolls sideways); a run missing a value is
     drawn on the axis' "missing" band; dragging along an axis brushes a range. */
  function parcoords(container, dims, items, opts) {
    opts = opts || {};
    container.textContent = "";
    const GAP = 110, MISS = 22;
    const m = { top: 34, bottom: 18, left: 56, right: 70 };
    const W = Math.max(360, container.clientWidth || 800, m.left + m.right + (dims.length - 1) * GAP), H = opts.height || 340;
    const svg = svgEl("svg", { class: "viz", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
                               "aria-label": `Parallel coordinates of ${items.length} runs over ${dims.length} axes` });
    if (!dims.length || !items.length) { container.appendChild(svg); return svg; }
    const xs = dims.map((d, i) => m.left + (dims.length === 1 ? 0 : (i * (W - m.left - m.right)) / (dims.length - 1)));
    const hasMissing = dims.map((d) => d.values.some((v) => v === null || v === undefined));
    const bottomOf = (i) => H - m.bottom - (hasMissing[i] ? MISS : 0);
    const scales = dims.map((d, i) => scaleFor(d.values, m.top, bottomOf(i)));
    const yOf = (i, v) => {
      if (v === null || v === undefined) return H - m.bottom - MISS / 2 + 4;
      const y = scales[i].f(v);
      return y === null || y === undefined ? H - m.bottom - MISS / 2 + 4 : y;
    };
    const colorDim = dims[dims.length - 1];
    const color = colorScale(colorDim.values);
    const brushes = dims.map(() => null); // [yTop, yBottom] per axis
    const lines = svgEl("g");
    const paths = items.map((it, j) => {
      let d = "";
      dims.forEach((dim, i) => { d += `${i ? "L" : "M"}${xs[i].toFixed(1)},${yOf(i, dim.values[j]).toFixed(1)}`; });
      const p = svgEl("path", { d, class: "pc-line", stroke: color(colorDim.values[j]) });
      const tipText = [it.label ? `${it.id.slice(0, 8)}  ${it.label}` : it.id.slice(0, 8),
                       ...dims.map((dim) => `${dim.name}: ${dim.values[j] === null || dim.values[j] === undefined ? "missing" : RY.fmtVal(dim.values[j])}`)].join("\n");
      p.addEventListener("mousemove", (e) => showTip(e, tipText));
      p.addEventListener("mouseleave", hideTip);
      if (opts.onClick) p.addEventListener("click", () => opts.onClick(it));
      lines.appendChild(p);
      return p;
    });
    function applyBrushes() {
      const active = brushes.some((b) => b);
      const kept = new Set();
      items.forEach((it, j) => {
        const ok = brushes.every((b, i) => !b || (() => { const y = yOf(i, dims[i].values[j]); return y >= b[0] - 4 && y <= b[1] + 4; })());
        paths[j].classList.toggle("dim", active && !ok);
        if (ok) kept.add(it.id);
      });
      if (opts.onBrush) opts.onBrush(active ? kept : null);
    }
    dims.forEach((dim, i) => {
      const g = svgEl("g", { class: "axis" });
      g.appendChild(svgEl("line", { x1: xs[i], x2: xs[i], y1: m.top, y2: bottomOf(i) }));
      const right = i === dims.length - 1 && dims.length > 1;
      for (const [y, label] of scales[i].ticks) {
        g.appendChild(svgEl("line", { x1: right ? xs[i] : xs[i] - 4, x2: right ? xs[i] + 4 : xs[i], y1: y, y2: y }));
        g.appendChild(svgEl("text", { x: right ? xs[i] + 7 : xs[i] - 7, y: y + 3.5, "text-anchor": right ? "start" : "end" },
                            clip(label, 14)));
      }
      if (hasMissing[i]) {
        const yb = H - m.bottom - MISS + 4;
        g.appendChild(svgEl("rect", { class: "pc-missing", x: xs[i] - 16, y: yb, width: 32, height: MISS - 6, rx: 3 }));
        g.appendChild(svgEl("text", { class: "pc-missing-label", x: xs[i], y: H - 4, "text-anchor": "middle" }, "missing"));
      }
      const anchor = i === 0 ? "start" : i === dims.length - 1 ? "end" : "middle";
      const title = svgEl("text", { x: xs[i], y: m.top - 14, "text-anchor": anchor, "font-weight": 600,
                                    class: i === dims.length - 1 ? "pc-title scalar" : "pc-title flag" }, clip(dim.name, 18));
      title.appendChild(svgEl("title", {}, dim.name));
      g.appendChild(title);
      // brushing: drag along the axis; a click without a drag clears it
      const hit = svgEl("rect", { class: "pc-hit", x: xs[i] - 12, y: m.top, width: 24, height: H - m.bottom - m.top, "data-axis": String(i) });
      const band = svgEl("rect", { class: "pc-brush", x: xs[i] - 9, width: 18, y: 0, height: 0, visibility: "hidden" });
      let y0 = null;
      const yAt = (e) => { const r = svg.getBoundingClientRect(); return Math.max(m.top, Math.min(H - m.bottom, e.clientY - r.top)); };
      // (a brush within 4 px of a value keeps it: the axis' end values sit exactly on its ends)
      hit.addEventListener("pointerdown", (e) => { y0 = yAt(e); hit.setPointerCapture(e.pointerId); e.preventDefault(); });
      hit.addEventListener("pointermove", (e) => {
        if (y0 === null) return;
        const y1 = yAt(e), a = Math.min(y0, y1), b = Math.max(y0, y1);
        band.setAttribute("y", a); band.setAttribute("height", b - a); band.setAttribute("visibility", "visible");
        if (b - a > 3) { brushes[i] = [a, b]; applyBrushes(); }
      });
      hit.addEventListener("pointerup", (e) => {
        const y1 = yAt(e);
        if (y0 !== null && Math.abs(y1 - y0) <= 3) { brushes[i] = null; band.setAttribute("visibility", "hidden"); applyBrushes(); }
        y0 = null;
      });
      g.appendChild(band);
      g.appendChild(hit);
      svg.appendChild(g);
    });
    svg.insertBefore(lines, svg.firstChild);
    container.appendChild(svg);
    if (opts.legend) colorLegend(opts.legend, colorDim);
    svg.clearBrushes = () => {
      brushes.fill(null);
      svg.querySelectorAll(".pc-brush").forEach((b) => b.setAttribute("visibility", "hidden"));
      applyBrushes();
    };
    svg.brush = (i, a, b) => { brushes[i] = [a, b]; applyBrushes(); }; // for keyboard-free tests and scripts
    return svg;
  }

  /* the colour key of parallel coordinates: low … high of the colouring scalar, and "missing" */
  function colorLegend(box, dim) {
    box.textContent = "";
    const nums = dim.values.filter(isNum);
    if (!nums.length) return;
    const mn = Math.min(...nums), mx = Math.max(...nums);
    const c = colorScale(dim.values);
    const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => c(mn + t * (mx - mn))).join(", ");
    box.appendChild(RY.el("span", { class: "pc-key-name", text: dim.name }));
    box.appendChild(RY.el("span", { class: "num", text: fmtTick(mn) }));
    box.appendChild(RY.el("span", { class: "pc-key-bar", style: `background: linear-gradient(to right, ${stops})`, role: "img",
                                    "aria-label": `colour from ${fmtTick(mn)} (blue) to ${fmtTick(mx)} (orange)` }));
    box.appendChild(RY.el("span", { class: "num", text: fmtTick(mx) }));
    if (dim.values.some((v) => !isNum(v))) {
      box.appendChild(RY.el("span", { class: "pc-key-missing", style: `background:${c(null)}` }));
      box.appendChild(RY.el("span", { text: "missing" }));
    }
  }

  /* ---- scatter ------------------------------------------------------------------------------- */

  /* points: [{x, y, id, label, color}] */
  function scatter(container, points, opts) {
    opts = opts || {};
    container.textContent = "";
    const W = Math.max(360, container.clientWidth || 700), H = opts.height || 320;
    const m = { top: 14, bottom: 44, left: 62, right: 18 };
    const svg = svgEl("svg", { class: "viz", viewBox: `0 0 ${W} ${H}`, height: H, role: "img",
                               "aria-label": `Scatter of ${opts.yName || "a scalar"} against ${opts.xName || "a value"}, ${points.length} runs` });
    const pts = points.filter((p) => p.x !== null && p.x !== undefined && isNum(p.y));
    const sx = scaleFor(pts.map((p) => p.x), 0, 1, 0.05);
    const sy = scaleFor(pts.map((p) => p.y), m.top, H - m.bottom, 0.06);
    const xpos = (v) => {
      const t = sx.f(v); // 1 - fraction (scaleFor maps to hi..lo)
      return m.left + (1 - t) * (W - m.left - m.right);
    };
    const ax = svgEl("g", { class: "axis" });
    for (const [y, label] of sy.ticks) {
      ax.appendChild(svgEl("line", { class: "gridline", x1: m.left, x2: W - m.right, y1: y, y2: y }));
      ax.appendChild(svgEl("text", { x: m.left - 6, y: y + 3.5, "text-anchor": "end" }, label));
    }
    for (const [t, label] of sx.ticks) {
      const x = m.left + (1 - t) * (W - m.left - m.right);
      ax.appendChild(svgEl("line", { class: "gridline", x1: x, x2: x, y1: m.top, y2: H - m.bottom }));
      ax.appendChild(svgEl("text", { x, y: H - m.bottom + 15, "text-anchor": "middle" }, clip(label, 16)));
    }
    ax.appendChild(svgEl("line", { x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom }));
    ax.appendChild(svgEl("line", { x1: m.left, x2: m.left, y1: m.top, y2: H - m.bottom }));
    ax.appendChild(svgEl("text", { x: (m.left + W - m.right) / 2, y: H - 6, "text-anchor": "middle", "font-weight": 600,
                                   fill: "#6a4fd0" }, opts.xName || ""));
    ax.appendChild(svgEl("text", { x: 12, y: (m.top + H - m.bottom) / 2, "text-anchor": "middle", "font-weight": 600,
                                   fill: "#0f8a6a", transform: `rotate(-90 12 ${(m.top + H - m.bottom) / 2})` }, opts.yName || ""));
    svg.appendChild(ax);
    const cat = sx.kind === "cat";
    const band = cat ? (W - m.left - m.right) / Math.max(1, sx.cats.length) : 0;
    pts.forEach((p, i) => {
      const jitter = cat && pts.length > 1 ? ((((i * 2654435761) >>> 0) % 1000) / 1000 - 0.5) * Math.min(28, band * 0.3) : 0;
      const c = svgEl("circle", { class: "pt", cx: (xpos(p.x) + jitter).toFixed(1), cy: sy.f(p.y).toFixed(1), r: 5,
                                  fill: p.color || "#2f6fde" });
      const text = `${p.id.slice(0, 8)}${p.label ? "  " + p.label : ""}\n${opts.xName}: ${RY.fmtVal(p.x)}\n${opts.yName}: ${RY.fmtNum(p.y)}`;
      c.addEventListener("mousemove", (e) => showTip(e, text));
      c.addEventListener("mouseleave", hideTip);
      if (opts.onClick) c.addEventListener("click", () => opts.onClick(p));
      svg.appendChild(c);
    });
    if (!pts.length) svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "No runs have both values."));
    container.appendChild(svg);
    return svg;
  }

  /* Group series by tag: one chart per tag, one line per (run, path). */
  function groupByTag(items) {
    const groups = new Map();
    for (const it of items) {
      if (!groups.has(it.tag)) groups.set(it.tag, []);
      groups.get(it.tag).push(it);
    }
    return groups;
  }

  return { lineChart, chartFor, valueCard, smooth, prefs, bindControls, parcoords, scatter, groupByTag, niceTicks, fmtTick };
})();
