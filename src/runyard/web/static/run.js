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
    document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
    document.querySelectorAll(".tabpane").forEach((p) => p.classList.toggle("active", p.id === "tab-" + name));
    if (!loaded[name]) {
      loaded[name] = true;
      ({ charts: loadCharts, output: startOutput, files: () => openDir(""), source: initSource })[name]?.();
    }
    if (location.hash !== "#" + name) history.replaceState(null, "", name === "overview" ? location.pathname : "#" + name);
  }
  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
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
      const v = await ask("Diff with run", { placeholder: "run id or prefix", hint: "The other run's id (a unique prefix is enough)." });
      if (v && v.trim()) location.href = `/diff/${encodeURIComponent(v.trim())}/${runId}`;
    }
  }));
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

  async function loadCharts() {
    const box = document.getElementById("charts");
    try {
      const j = await getJSON(`/api/run/${runId}/scalars?points=2000`);
      seriesAll = j.series;
      drawCharts();
    } catch (e) {
      box.replaceChildren(el("div", { class: "empty", text: "Could not load scalars: " + e.message }));
    }
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
      const note = items.some((s) => s.downsampled) ? `${items.reduce((a, s) => a + s.n, 0).toLocaleString()} points, downsampled (min/max kept)` : "";
      const noteEl = el("span", { class: "note", text: note });
      const card = el("div", { class: "chart-card" }, el("h3", {}, el("span", { text: title }), noteEl), plotBox);
      box.appendChild(card);
      const colored = items.map((s, i) => Object.assign({}, s, { label: overlayBox.checked || items.length > 1 ? s.key : s.tag, color: RY.palette[i % RY.palette.length] }));
      const original = colored;
      const chart = RYCharts.lineChart(plotBox, {
        series: colored, log: logBox.checked, height: 240,
        onZoom: async (min, max) => {
          if (!original.some((s) => s.downsampled)) return;
          const q = new URLSearchParams({ points: "2000", x0: String(Math.floor(min)), x1: String(Math.ceil(max)) });
          for (const s of original) q.append("key", s.key);
          try {
            const j = await getJSON(`/api/run/${runId}/scalars?${q}`);
            const byKey = new Map(j.series.map((s) => [s.key, s]));
            const detail = original.map((s) => Object.assign({}, s, byKey.get(s.key) || {}, { label: s.label, color: s.color }));
            chart.setSeries(detail, true);
            noteEl.textContent = detail.some((s) => s.downsampled) ? "zoomed, downsampled" : "zoomed, every point";
          } catch (e) { toast(e.message, true); }
        },
        onReset: () => { chart.setSeries(original, false); noteEl.textContent = note; },
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
    document.getElementById("run-status").replaceChildren(statusPill(s));
    if (was === "running" && s !== "running") toast(`Run ${s}`);
  }

  // a running run's status is watched even when the output tab is closed
  if (status === "running") {
    const watch = async () => {
      if (!loaded.output) {
        try { const j = await getJSON(`/api/run/${runId}/status`); setStatus(j.status); } catch (e) { /* retry */ }
      }
      if (status === "running") setTimeout(watch, 3000);
      else if (loaded.charts) loadCharts();
    };
    setTimeout(watch, 3000);
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
      crumbs.appendChild(el("a", { text: runId.slice(0, 8), on: { click: () => openDir("") } }));
      let acc = "";
      for (const part of path ? path.split("/") : []) {
        acc = acc ? acc + "/" + part : part;
        const target = acc;
        crumbs.appendChild(el("span", { class: "muted", text: "/" }));
        crumbs.appendChild(el("a", { text: part, on: { click: () => openDir(target) } }));
      }
      const tbody = el("tbody");
      if (path) tbody.appendChild(el("tr", { class: "f", on: { click: () => openDir(path.split("/").slice(0, -1).join("/")) } },
        el("td", { class: "name" }, el("span", { class: "ico", text: "↰" }), ".."), el("td"), el("td")));
      const entries = j.entries.filter((e) => showGuild.checked || path || e.name !== ".guild");
      for (const e of entries) {
        const tr = el("tr", { class: "f" + (e.outside ? " outside" : "") + (currentFile === e.path ? " current" : ""),
                              title: e.outside ? "Points outside the run directory" : e.path },
          el("td", { class: "name" }, el("span", { class: "ico", text: e.dir ? "▸" : e.link ? "↪" : "·" }), e.name + (e.dir ? "/" : "")),
          el("td", { class: "num muted", text: e.dir ? "" : fmtSize(e.size) }),
          el("td", { class: "muted small", text: e.mtime ? fmtTime(e.mtime * 1000) : "" }));
        if (!e.outside) tr.addEventListener("click", () => (e.dir ? openDir(e.path) : preview(e)));
        tbody.appendChild(tr);
      }
      if (!entries.length) tbody.appendChild(el("tr", {}, el("td", { class: "muted", colspan: "3", text: "Empty." })));
      table.replaceChildren(tbody);
    } catch (err) { table.replaceChildren(el("tr", {}, el("td", { text: err.message }))); }
  }
  showGuild.addEventListener("change", () => openDir(cwd));

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
    const links = [...list.querySelectorAll("a")];
    list.addEventListener("click", (e) => { if (e.target.dataset.path) openSource(e.target.dataset.path); });
    const op = document.querySelector(".runhead .op").textContent;
    const main = links.find((a) => a.dataset.path === op) || links[0];
    if (main) openSource(main.dataset.path);
  }

  async function openSource(path) {
    document.querySelectorAll("#source-list a").forEach((a) => a.classList.toggle("current", a.dataset.path === path));
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
