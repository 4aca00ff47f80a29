/* runyard: the run page — tabs, actions, scalar charts, live output, file browser, source. */
"use strict";

(() => {
  const { el, getJSON, fmtNum, fmtSize, fmtTime, toast, ask, act, statusPill } = RY;
  const app = document.getElementById("run-app");
  const runId = app.dataset.run;
  let status = app.dataset.status;
  const enc = (p) => p.split("/").map(encodeURIComponent).join("/");
  const fileURL = (p) => `/files/${runId}/${enc(p)}`;

  /* ---- tabs --------------------------------------------------------------------------------- */
  const loaded = {};
  function showTab(name) {
    document.querySelectorAll(".tabs button").forEach((b) => {
      const on = b.dataset.tab === name;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    });
    document.querySelectorAll(".tabpane").forEach((p) => p.classList.toggle("active", p.id === "tab-" + name));
    if (!loaded[name]) {
      loaded[name] = true;
      ({ charts: loadCharts, output: startOutput, files: () => openDir(""), source: initSource })[name]?.();
    }
    if (location.hash !== "#" + name) history.replaceState(null, "", name === "overview" ? location.pathname : "#" + name);
  }
  const tabButtons = [...document.querySelectorAll(".tabs button")];
  tabButtons.forEach((b, i) => {
    b.addEventListener("click", () => showTab(b.dataset.tab));
    b.addEventListener("keydown", (e) => { // arrow keys move between tabs (WAI-ARIA tabs)
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!d) return;
      const next = tabButtons[(i + d + tabButtons.length) % tabButtons.length];
      next.focus();
      showTab(next.dataset.tab);
      e.preventDefault();
    });
  });
  const fromHash = () => {
    const name = location.hash.slice(1);
    if (["overview", "charts", "output", "files", "source"].includes(name)) showTab(name);
  };
  window.addEventListener("hashchange", fromHash);

  /* ---- actions ------------------------------------------------------------------------------ */
  const reload = () => location.reload();
  document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", async () => {
    const a = b.dataset.action;
    if (a === "tag") {
      const v = await ask("Add tags", { placeholder: "tag", hint: "Separate several tags with spaces.", ok: "Add" });
      if (v && v.trim() && await act("tag", [runId], { add: v.trim().split(/\s+/) })) reload();
    } else if (a === "label") {
      const v = await ask("Label", { value: app.dataset.label, hint: "An empty label removes it.", ok: "Save" });
      if (v !== null && await act("label", [runId], { label: v.trim() })) reload();
    } else if (a === "comment") {
      const v = await ask("Comment", { multiline: true, placeholder: "What did you learn from this run?", ok: "Add comment" });
      if (v && v.trim() && await act("comment", [runId], { comment: v.trim() })) reload();
    } else if (a === "mark") {
      if (await act("mark", [runId], { clear: app.dataset.marked === "1" })) reload();
    } else if (a === "delete") {
      const ok = await ask("Delete this run?", { confirmOnly: true, ok: "Delete", hint: "It goes to the trash; you can restore it." });
      if (ok && await act("delete", [runId])) reload();
    } else if (a === "restore") {
      if (await act("restore", [runId], {}, "Restored")) reload();
    } else if (a === "diff") {
      const other = await pickRun();
      if (other) location.href = `/diff/${encodeURIComponent(other)}/${runId}`;
    }
  }));
  /* "Diff with…": choose the other run from a list (same operation first), or type an id */
  async function pickRun() {
    let runs = [];
    try { runs = (await getJSON("/api/runs")).runs || []; } catch (e) { /* type an id instead */ }
    const op = app.dataset.operation;
    runs = runs.filter((r) => r[0] !== runId);
    runs.sort((x, y) => ((y[1] === op) - (x[1] === op)) || ((y[2] || 0) - (x[2] || 0)));
    const sel = el("select", { "aria-label": "Run to diff with", size: "8" });
    for (const r of runs.slice(0, 300)) {
      sel.appendChild(el("option", { value: r[0], text: `${r[0].slice(0, 8)}  ${r[1]}  ${fmtTime(r[2])}${r[6] ? "  " + r[6] : ""}` }));
    }
    if (sel.options.length) sel.selectedIndex = 0;
    const typed = el("input", { type: "text", placeholder: "or type a run id / prefix", "aria-label": "Run id or prefix" });
    return new Promise((resolve) => {
      const ok = el("button", { type: "submit", class: "primary", text: "Diff" });
      const cancel = el("button", { type: "button", text: "Cancel" });
      const form = el("form", { method: "dialog" }, el("h2", { text: "Diff with run" }),
        runs.length ? sel : el("div", { class: "hint", text: "No other runs." }), typed, el("div", { class: "row" }, cancel, ok));
      const dlg = el("dialog", { class: "ask", "aria-label": "Diff with run" }, form);
      document.body.appendChild(dlg);
      const finish = (v) => { dlg.close(); dlg.remove(); resolve(v); };
      cancel.addEventListener("click", () => finish(null));
      dlg.addEventListener("cancel", () => finish(null));
      sel.addEventListener("dblclick", () => finish(sel.value));
      form.addEventListener("submit", (e) => { e.preventDefault(); finish(typed.value.trim() || sel.value || null); });
      dlg.showModal();
      (runs.length ? sel : typed).focus();
    });
  }
  document.querySelectorAll(".tag-x").forEach((b) => b.addEventListener("click", async () => {
    if (await act("tag", [runId], { remove: [b.dataset.tag] })) reload();
  }));
  document.querySelectorAll(".comment-x").forEach((b) => b.addEventListener("click", async () => {
    const ok = await ask("Delete this comment?", { confirmOnly: true, ok: "Delete" });
    if (ok && await act("comment", [runId], { delete: parseInt(b.dataset.n, 10) })) reload();
  }));

  /* ---- charts ------------------------------------------------------------------------------- */
  let charts = [];
  let seriesAll = [];
  const logBox = document.getElementById("chart-log");
  const overlayBox = document.getElementById("chart-overlay");

  let seriesVersion = "";
  let zoomed = false;
  const chartPrefs = RYCharts.bindControls(document.getElementById("tab-charts"),
    (w) => charts.forEach((c) => c.setSmoothing(w)),
    (m) => { chartPrefs.xMode = m; loadCharts(true); });

  /* redraw: draw the charts anew (another x axis), not just give them new points */
  async function loadCharts(redraw) {
    const box = document.getElementById("charts");
    try {
      const times = chartPrefs.xMode !== "step" ? "&times=1" : "";
      const j = await getJSON(`/api/run/${runId}/scalars?points=2000${times}`);
      const sameKeys = seriesAll.length && j.series.map((s) => s.key).join("\n") === seriesAll.map((s) => s.key).join("\n");
      seriesAll = j.series;
      seriesVersion = j.version;
      if (sameKeys && charts.length && !zoomed && !redraw) updateCharts(); else drawCharts();
      window.__runyardScalarsShown = Date.now(); // for the live-latency benchmark
    } catch (e) {
      box.replaceChildren(el("div", { class: "empty", text: "Could not load scalars: " + e.message }));
    }
  }

  /* a running run: new points extend the charts in place */
  function updateCharts() {
    const groups = overlayBox.checked ? new Map([["All scalars", seriesAll]]) : RYCharts.groupByTag(seriesAll);
    let i = 0;
    for (const [, items] of groups) {
      const c = charts[i++];
      if (!c) { drawCharts(); return; }
      c.setSeries(colorize(items), false);
    }
    document.querySelectorAll("#charts .chart-card .note").forEach((n, k) => {
      const items = [...groups.values()][k] || [];
      n.textContent = noteFor(items);
    });
  }

  function colorize(items) {
    return items.map((s, i) => Object.assign({}, s, { label: overlayBox.checked || items.length > 1 ? s.key : s.tag,
                                                       color: RY.palette[i % RY.palette.length] }));
  }
  function noteFor(items) {
    return items.some((s) => s.downsampled) ? `${items.reduce((a, s) => a + s.n, 0).toLocaleString()} points, downsampled (min/max kept)` : "";
  }

  function drawCharts() {
    const box = document.getElementById("charts");
    charts.forEach((c) => c.destroy());
    charts = [];
    box.textContent = "";
    if (!seriesAll.length) { box.appendChild(el("div", { class: "empty", text: "This run logged no scalars." })); return; }
    let groups;
    if (overlayBox.checked) groups = new Map([["All scalars", seriesAll]]);
    else groups = RYCharts.groupByTag(seriesAll);
    for (const [title, items] of groups) {
      const plotBox = el("div", { class: "plot" });
      const note = noteFor(items);
      const noteEl = el("span", { class: "note", text: note });
      const card = el("div", { class: "chart-card" }, el("h3", {}, el("span", { text: title }), noteEl), plotBox);
      box.appendChild(card);
      const colored = colorize(items);
      const original = colored;
      const chart = RYCharts.chartFor(plotBox, {
        series: colored, log: logBox.checked, height: 240, smoothing: chartPrefs.smoothing, xMode: chartPrefs.xMode,
        onZoom: async (min, max) => {
          if (!original.some((s) => s.downsampled)) return;
          const q = new URLSearchParams({ points: "2000", x0: String(Math.floor(min)), x1: String(Math.ceil(max)) });
          for (const s of original) q.append("key", s.key);
          try {
            const j = await getJSON(`/api/run/${runId}/scalars?${q}`);
            const byKey = new Map(j.series.map((s) => [s.key, s]));
            const detail = original.map((s) => Object.assign({}, s, byKey.get(s.key) || {}, { label: s.label, color: s.color }));
            chart.setSeries(detail, true);
            zoomed = true;
            noteEl.textContent = detail.some((s) => s.downsampled) ? "zoomed, downsampled" : "zoomed, every point";
          } catch (e) { toast(e.message, true); }
        },
        onReset: () => { zoomed = false; loadCharts(); },
      });
      charts.push(chart);
    }
  }
  logBox.addEventListener("change", () => charts.forEach((c) => c.setLog(logBox.checked)));
  overlayBox.addEventListener("change", drawCharts);

  /* ---- output ------------------------------------------------------------------------------- */
  const out = document.getElementById("output");
  const followBox = document.getElementById("output-follow");
  const earlierBtn = document.getElementById("output-earlier");
  let outStart = 0, outNext = 0, outTimer = null;
  const TAIL = 5000;

  function lineEl(n, line) {
    return el("div", { class: "ln" + (line[1] === 1 ? " err" : ""), title: line[0] ? fmtTime(line[0] * 1000) : "" },
      el("span", { class: "no", text: String(n) }), el("span", { class: "tx", text: line[2] }));
  }

  function updateInfo() {
    document.getElementById("output-info").textContent =
      `${outNext.toLocaleString()} line${outNext === 1 ? "" : "s"}` + (outStart > 0 ? ` (showing from line ${(outStart + 1).toLocaleString()})` : "") +
      (status === "running" ? " · live" : "");
    earlierBtn.hidden = outStart === 0;
  }

  async function startOutput() {
    try {
      const j = await getJSON(`/api/run/${runId}/output?tail=${TAIL}`);
      outStart = j.start; outNext = j.next;
      const frag = document.createDocumentFragment();
      j.lines.forEach((l, i) => frag.appendChild(lineEl(j.start + i + 1, l)));
      out.replaceChildren(frag);
      if (!j.lines.length) out.appendChild(el("div", { class: "ln" }, el("span", { class: "no" }), el("span", { class: "tx", text: "(no output)" })));
      out.scrollTop = out.scrollHeight;
      setStatus(j.status);
      updateInfo();
      if (status === "running") outTimer = setTimeout(tail, 1000);
    } catch (e) { out.textContent = "Could not load output: " + e.message; }
  }

  async function tail() {
    try {
      const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 30;
      const j = await getJSON(`/api/run/${runId}/output?start=${outNext}`);
      if (j.lines.length) {
        if (outNext === 0) out.textContent = "";
        const frag = document.createDocumentFragment();
        j.lines.forEach((l, i) => frag.appendChild(lineEl(j.start + i + 1, l)));
        out.appendChild(frag);
        outNext = j.next;
        if (followBox.checked && atBottom) out.scrollTop = out.scrollHeight;
      }
      setStatus(j.status);
      updateInfo();
    } catch (e) { /* retry */ }
    if (status === "running") outTimer = setTimeout(tail, 1000);
  }

  earlierBtn.addEventListener("click", async () => {
    const from = Math.max(0, outStart - TAIL);
    const j = await getJSON(`/api/run/${runId}/output?start=${from}&tail=${outStart - from}`);
    const lines = j.lines.slice(0, outStart - from);
    const frag = document.createDocumentFragment();
    lines.forEach((l, i) => frag.appendChild(lineEl(from + i + 1, l)));
    const h = out.scrollHeight;
    out.insertBefore(frag, out.firstChild);
    out.scrollTop += out.scrollHeight - h;
    outStart = from;
    updateInfo();
  });

  function setStatus(s) {
    if (!s || s === status) return;
    const was = status;
    status = s;
    app.dataset.status = s;
    document.getElementById("run-status").replaceChildren(statusPill(s));
    if (was === "running" && s !== "running") toast(`Run ${s}`);
  }

  /* a running run: its status, time and charts follow the run (about once a second) */
  const timeEl = document.getElementById("run-time");
  const started = app.dataset.started ? parseInt(app.dataset.started, 10) : null;
  if (status === "running" || status === "pending") {
    const watch = async () => {
      try {
        const j = await getJSON(`/api/run/${runId}/status`);
        setStatus(j.status);
        if (j.duration) { timeEl.textContent = j.duration; timeEl.parentElement.hidden = false; }
        if (loaded.charts && j.scalars !== seriesVersion && !zoomed) await loadCharts();
      } catch (e) { /* the server may be busy: try again */ }
      if (status === "running" || status === "pending") setTimeout(watch, 700);
    };
    setTimeout(watch, 700);
    const tick = () => {
      if (status !== "running" || !started) return;
      timeEl.textContent = RY.fmtDuration(started, null, "running");
      timeEl.parentElement.hidden = false;
      setTimeout(tick, 1000);
    };
    tick();
  }

  /* ---- files -------------------------------------------------------------------------------- */
  const showGuild = document.getElementById("show-guild");
  let cwd = "";
  let currentFile = null;
  async function openDir(path) {
    cwd = path;
    const table = document.getElementById("filelist");
    try {
      const j = await getJSON(`/api/run/${runId}/files?path=${encodeURIComponent(path)}`);
      const crumbs = document.getElementById("crumbs");
      crumbs.textContent = "";
      crumbs.appendChild(el("button", { type: "button", class: "linklike", text: runId.slice(0, 8), on: { click: () => openDir("") } }));
      let acc = "";
      for (const part of path ? path.split("/") : []) {
        acc = acc ? acc + "/" + part : part;
        const target = acc;
        crumbs.appendChild(el("span", { class: "muted", text: "/" }));
        crumbs.appendChild(el("button", { type: "button", class: "linklike", text: part, on: { click: () => openDir(target) } }));
      }
      const tbody = el("tbody");
      if (path) tbody.appendChild(el("tr", { class: "f", tabindex: "0", "aria-label": "Parent folder", on: { click: () => openDir(path.split("/").slice(0, -1).join("/")) } },
        el("td", { class: "name" }, el("span", { class: "ico", text: "↰" }), ".."), el("td"), el("td")));
      const entries = j.entries.filter((e) => showGuild.checked || path || e.name !== ".guild");
      for (const e of entries) {
        const tr = el("tr", { class: "f" + (e.outside ? " outside" : "") + (currentFile === e.path ? " current" : ""),
                              title: e.outside ? "Points outside the run directory" : e.path },
          el("td", { class: "name" }, el("span", { class: "ico", text: e.dir ? "▸" : e.link ? "↪" : "·" }), e.name + (e.dir ? "/" : "")),
          el("td", { class: "num muted", text: e.dir ? "" : fmtSize(e.size) }),
          el("td", { class: "muted small", text: e.mtime ? fmtTime(e.mtime * 1000) : "" }));
        if (!e.outside) {
          tr.tabIndex = 0;
          tr.addEventListener("click", () => (e.dir ? openDir(e.path) : preview(e)));
        }
        tbody.appendChild(tr);
      }
      if (!entries.length) tbody.appendChild(el("tr", {}, el("td", { class: "muted", colspan: "3", text: "Empty." })));
      table.replaceChildren(tbody);
    } catch (err) { table.replaceChildren(el("tr", {}, el("td", { text: err.message }))); }
  }
  showGuild.addEventListener("change", () => openDir(cwd));
  document.getElementById("filelist").addEventListener("keydown", (ev) => {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.matches("tr.f")) { ev.preventDefault(); ev.target.click(); }
  });

  const TEXT_EXT = /\.(txt|log|md|py|r|rmd|qmd|json|ya?ml|toml|ini|cfg|sh|js|ts|css|html?|xml|tex|c|h|cpp|hpp|java|go|rs|jl|sql|ipynb|out|err)$/i;
  async function preview(e) {
    currentFile = e.path;
    document.querySelectorAll("#filelist tr").forEach((tr) => tr.classList.toggle("current", tr.title === e.path));
    const box = document.getElementById("preview");
    document.getElementById("preview-title").textContent = e.path;
    const links = document.getElementById("preview-links");
    links.replaceChildren(el("a", { class: "btn", href: fileURL(e.path), target: "_blank", rel: "noopener", text: "Open" }), " ",
                          el("a", { class: "btn", href: fileURL(e.path) + "?download=1", text: "Download" }));
    const ext = (e.name.match(/\.[^.]+$/) || [""])[0].toLowerCase();
    box.textContent = "";
    if ([".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"].includes(ext)) {
      box.appendChild(el("img", { src: fileURL(e.path), alt: e.name }));
      return;
    }
    if (e.size > 5 * 1024 * 1024) { box.appendChild(el("div", { class: "empty", text: `Too large to preview (${fmtSize(e.size)}).` })); return; }
    const r = await fetch(fileURL(e.path), { credentials: "same-origin" });
    if (!r.ok) { box.appendChild(el("div", { class: "empty", text: await r.text() })); return; }
    const buf = new Uint8Array(await r.arrayBuffer());
    if (buf.slice(0, 8000).includes(0) && !TEXT_EXT.test(e.name)) { box.appendChild(el("div", { class: "empty", text: "Binary file: no preview." })); return; }
    const text = new TextDecoder("utf-8").decode(buf);
    if (ext === ".csv" || ext === ".tsv") { box.appendChild(csvTable(text, ext === ".tsv" ? "\t" : ",")); return; }
    box.appendChild(el("pre", { class: "text", text }));
  }

  function parseCSV(text, sep, maxRows) {
    const rows = [];
    let row = [], field = "", q = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (q) {
        if (c === '"') { if (text[i + 1] === '"') { field += '"'; i++; } else q = false; }
        else field += c;
      } else if (c === '"' && field === "") q = true;
      else if (c === sep) { row.push(field); field = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field); field = ""; rows.push(row); row = [];
        if (rows.length > maxRows) break;
      } else field += c;
    }
    if (field || row.length) { row.push(field); rows.push(row); }
    return rows;
  }

  function csvTable(text, sep) {
    const rows = parseCSV(text, sep, 1000);
    const [header, ...rest] = rows;
    const table = el("table", { class: "data" },
      el("thead", {}, el("tr", {}, (header || []).map((h) => el("th", { text: h })))),
      el("tbody", {}, rest.slice(0, 1000).map((r) => el("tr", {}, r.map((v) => el("td", { class: /^-?[\d.eE+-]+$/.test(v) ? "num" : "", text: v }))))));
    const wrap = el("div", { class: "csv" }, table);
    if (rest.length > 1000) wrap.appendChild(el("div", { class: "muted small", text: "Showing the first 1,000 rows." }));
    return wrap;
  }

  /* ---- source ------------------------------------------------------------------------------- */
  function initSource() {
    const list = document.getElementById("source-list");
    if (!list) return;
    const links = [...list.querySelectorAll("[data-path]")];
    list.addEventListener("click", (e) => { if (e.target.dataset.path) openSource(e.target.dataset.path); });
    const op = document.querySelector(".runhead .op").textContent;
    const main = links.find((a) => a.dataset.path === op) || links[0];
    if (main) openSource(main.dataset.path);
  }

  async function openSource(path) {
    document.querySelectorAll("#source-list [data-path]").forEach((a) => a.classList.toggle("current", a.dataset.path === path));
    document.getElementById("source-title").textContent = path;
    const body = document.getElementById("source-body");
    try {
      const j = await getJSON(`/api/run/${runId}/source?path=${encodeURIComponent(path)}`);
      // Pygments output: every character of the file is escaped by the server.
      body.innerHTML = j.html;
      if (j.truncated) body.appendChild(el("div", { class: "muted small", text: "File cut at 2 MB." }));
    } catch (e) { body.replaceChildren(el("div", { class: "empty", text: e.message })); }
  }

  fromHash(); // last: the tab loaders above must exist first
})();
