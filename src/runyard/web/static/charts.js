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

  function chartData(series, log) {
    const fix = (vals) => (log ? vals.map((v) => (v === null || v <= 0 ? null : v)) : vals);
    if (series.length === 1) return [series[0].steps, fix(series[0].values)];
    return uPlot.join(series.map((s) => [s.steps, fix(s.values)]));
  }

  /* cfg: {series: [{label, color, steps, values}], log, height, onZoom(min, max), onReset()} */
  function lineChart(container, cfg) {
    let log = !!cfg.log;
    let current = cfg.series;
    const axisStyle = { stroke: "#687385", grid: { stroke: "#eef0f3", width: 1 }, ticks: { stroke: "#e3e6eb", width: 1 },
                        font: "11px system-ui, sans-serif" };
    function makeOpts() {
      return {
        width: Math.max(280, container.clientWidth || 600),
        height: cfg.height || 240,
        scales: { x: { time: false }, y: log ? { distr: 3, log: 10 } : { distr: 1 } },
        series: [
          { label: "step", value: (u, v) => (v === null || v === undefined ? "" : String(v)) },
          ...current.map((s) => ({
            label: s.label, stroke: s.color, width: 1.5, spanGaps: true,
            points: { show: s.steps.length <= 60, size: 5, fill: s.color },
            value: (u, v) => (v === null || v === undefined ? "–" : RY.fmtNum(v)),
          })),
        ],
        axes: [
          Object.assign({}, axisStyle, { values: (u, vals) => vals.map(fmtTick) }),
          Object.assign({}, axisStyle, { size: 56, values: (u, vals) => vals.map(fmtTick) }),
        ],
        cursor: {
          drag: { x: true, y: false, setScale: true },
          bind: {
            dblclick: (u, targ, handler) => (e) => {
              if (cfg.onReset) { cfg.onReset(); return null; }
              return handler(e);
            },
          },
        },
        legend: { live: true },
        hooks: {
          setSelect: [(u) => {
            if (u.select.width > 3 && cfg.onZoom) {
              const min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
              setTimeout(() => cfg.onZoom(min, max), 0);
            }
          }],
        },
      };
    }
    let plot = new uPlot(makeOpts(), chartData(current, log), container);
    let lastW = container.clientWidth;
    const ro = new ResizeObserver(() => {
      const w = container.clientWidth;
      if (w && Math.abs(w - lastW) > 2) { lastW = w; plot.setSize({ width: Math.max(280, w), height: cfg.height || 240 }); }
    });
    ro.observe(container);
    return {
      get plot() { return plot; },
      setLog(v) {
        log = !!v;
        plot.destroy();
        plot = new uPlot(makeOpts(), chartData(current, log), container);
      },
      setSeries(series, keepScale) {
        current = series;
        const x = { min: plot.scales.x.min, max: plot.scales.x.max };
        plot.setData(chartData(series, log), !keepScale);
        if (keepScale) plot.setScale("x", x);
      },
      destroy() { ro.disconnect(); plot.destroy(); },
    };
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

  /* dims: [{name, values}] (one value per item; the last dim colors the lines); items: [{id, label}] */
  function parcoords(container, dims, items, opts) {
    opts = opts || {};
    container.textContent = "";
    const W = Math.max(420, container.clientWidth || 800), H = opts.height || 340;
    const m = { top: 34, bottom: 18, left: 50, right: 60 };
    const svg = svgEl("svg", { class: "viz", viewBox: `0 0 ${W} ${H}`, height: H, role: "img" });
    if (!dims.length || !items.length) { container.appendChild(svg); return svg; }
    const xs = dims.map((d, i) => m.left + (dims.length === 1 ? 0 : (i * (W - m.left - m.right)) / (dims.length - 1)));
    const scales = dims.map((d) => scaleFor(d.values, m.top, H - m.bottom));
    const color = colorScale(dims[dims.length - 1].values);
    const lines = svgEl("g");
    items.forEach((it, j) => {
      let d = "", pen = false;
      dims.forEach((dim, i) => {
        const y = scales[i].f(dim.values[j]);
        if (y === null || y === undefined) { pen = false; return; }
        d += `${pen ? "L" : "M"}${xs[i].toFixed(1)},${y.toFixed(1)}`;
        pen = true;
      });
      const p = svgEl("path", { d, class: "pc-line", stroke: color(dims[dims.length - 1].values[j]) });
      const tipText = [it.label ? `${it.id.slice(0, 8)}  ${it.label}` : it.id.slice(0, 8),
                       ...dims.map((dim) => `${dim.name}: ${RY.fmtVal(dim.values[j])}`)].join("\n");
      p.addEventListener("mousemove", (e) => showTip(e, tipText));
      p.addEventListener("mouseleave", hideTip);
      if (opts.onClick) p.addEventListener("click", () => opts.onClick(it));
      lines.appendChild(p);
    });
    dims.forEach((dim, i) => {
      const g = svgEl("g", { class: "axis" });
      g.appendChild(svgEl("line", { x1: xs[i], x2: xs[i], y1: m.top, y2: H - m.bottom }));
      const right = i === dims.length - 1 && dims.length > 1; // the last axis labels on its right
      for (const [y, label] of scales[i].ticks) {
        g.appendChild(svgEl("line", { x1: right ? xs[i] : xs[i] - 4, x2: right ? xs[i] + 4 : xs[i], y1: y, y2: y }));
        const t = svgEl("text", { x: right ? xs[i] + 7 : xs[i] - 7, y: y + 3.5, "text-anchor": right ? "start" : "end" },
                        clip(label, 14));
        g.appendChild(t);
      }
      const anchor = i === 0 ? "start" : i === dims.length - 1 ? "end" : "middle";
      const title = svgEl("text", { x: xs[i], y: m.top - 14, "text-anchor": anchor, "font-weight": 600,
                                    fill: i === dims.length - 1 ? "#0f8a6a" : "#6a4fd0" }, clip(dim.name, 22));
      g.appendChild(title);
      svg.appendChild(g);
    });
    svg.insertBefore(lines, svg.firstChild);
    container.appendChild(svg);
    return svg;
  }

  /* ---- scatter ------------------------------------------------------------------------------- */

  /* points: [{x, y, id, label, color}] */
  function scatter(container, points, opts) {
    opts = opts || {};
    container.textContent = "";
    const W = Math.max(360, container.clientWidth || 700), H = opts.height || 320;
    const m = { top: 14, bottom: 44, left: 62, right: 18 };
    const svg = svgEl("svg", { class: "viz", viewBox: `0 0 ${W} ${H}`, height: H, role: "img" });
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

  return { lineChart, parcoords, scatter, groupByTag, niceTicks, fmtTick };
})();
