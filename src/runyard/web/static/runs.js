/* runyard: the runs page — a virtualized table (only visible rows are in the DOM), sortable by
   any column, filtered by the filter language on the server, updated live by polling. */
"use strict";

(() => {
  const { el, getJSON, fmtCount, fmtTime, fmtDuration, fmtNum, fmtVal, statusPill, toast, ask, act } = RY;
  const app = document.getElementById("runs-app");
  const deleted = app.dataset.deleted === "1";
  const grid = document.getElementById("grid");
  const inner = document.getElementById("grid-inner");
  const head = document.getElementById("grid-head");
  const body = document.getElementById("grid-body");
  const rowsEl = document.getElementById("grid-rows");
  const emptyEl = document.getElementById("grid-empty");
  const filterInput = document.getElementById("filter");
  const filterError = document.getElementById("filter-error");
  const F = { id: 0, op: 1, started: 2, stopped: 3, status: 4, exit: 5, label: 6, tags: 7, marked: 8, comments: 9, flags: 10, scalars: 11 };
  const ROW_H = 30;
  const POLL_MS = 2000;
  let collator = null; // (made when values are first compared as text: ICU's start costs ~20 ms)
  const textCompare = (a, b) => (collator || (collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" }))).compare(a, b);
  /* column names in natural order ("f2" before "f10"), case-insensitive, without ICU */
  function nameCompare(a, b) {
    const x = a.toLowerCase().match(/\d+|\D+/g) || [], y = b.toLowerCase().match(/\d+|\D+/g) || [];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] === y[i]) continue;
      const nx = /^\d/.test(x[i]), ny = /^\d/.test(y[i]);
      if (nx && ny && +x[i] !== +y[i]) return +x[i] - +y[i];
      return x[i] < y[i] ? -1 : 1;
    }
    return x.length - y.length || (a < b ? -1 : a > b ? 1 : 0);
  }

  let rows = [];
  let view = [];
  let version = 0;
  let total = 0;
  let cols = [];
  let colSig = "";
  let rendered = [-1, -1];
  let loadSeq = 0;
  let lastClicked = null;
  const selected = new Set();
  const params = new URLSearchParams(location.search);
  let filterText = params.get("filter") || "";
  let sort = parseSort(params.get("sort") || "-started");
  filterInput.value = filterText;
  const listParam = (n) => (params.get(n) || "").split(",").filter(Boolean);
  let hiddenCols = params.has("hide") ? new Set(listParam("hide")) : null; // null: the defaults
  let pinnedCols = listParam("pin");
  let allCols = [];
  let activeRow = -1;
  const MAX_COMPARE = parseInt(app.dataset.maxCompare || "200", 10);

  function parseSort(s) { return s.startsWith("-") ? { key: s.slice(1), dir: -1 } : { key: s, dir: 1 }; }

  function updateURL() {
    const p = new URLSearchParams();
    if (deleted) p.set("deleted", "1");
    if (filterText) p.set("filter", filterText);
    const s = (sort.dir < 0 ? "-" : "") + sort.key;
    if (s !== "-started") p.set("sort", s);
    if (hiddenCols !== null) p.set("hide", [...hiddenCols].join(","));
    if (pinnedCols.length) p.set("pin", pinnedCols.join(","));
    const q = p.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
    const url = location.pathname + (q ? "?" + q : "");
    // Only a change is written: a needless same-document navigation can abort a Back in flight.
    if (url !== location.pathname + location.search) history.replaceState(null, "", url);
    try { sessionStorage.setItem("runyard.runsURL", url); } catch (e) { /* private mode */ }
  }

  /* ---- columns ------------------------------------------------------------------------------ */

  function textWidth(n) { return Math.max(64, Math.min(320, Math.round(n * 8 + 20))); } // (13 px text: digits are 8.3 px)

  function measure(get, title, fmt) {
    let n = title.length + 2;
    const step = Math.max(1, Math.floor(rows.length / 100)); // (a sample: widths are a guess anyway)
    for (let i = 0; i < rows.length; i += step) {
      const v = get(rows[i]);
      const t = fmt ? fmt(v) : fmtVal(v);
      if (t.length > n) n = t.length;
    }
    return textWidth(n);
  }

  function buildColumns(names) { // names: every run's flag and scalar names (with the first rows)
    const flags = new Set(names ? names.flags : []), scalars = new Set(names ? names.scalars : []);
    const fused = new Set(), sused = new Set();
    for (const r of rows) { fused.add(r[F.flags][0]); sused.add(r[F.scalars][0]); }
    for (const i of fused) for (const k of fsets[i]) flags.add(k);
    for (const i of sused) for (const k of ssets[i]) scalars.add(k);
    const flagNames = [...flags].sort(nameCompare);
    const scalarNames = [...scalars].sort(nameCompare);
    const sig = flagNames.join("\u0000") + "\u0001" + scalarNames.join("\u0000");
    if (sig === colSig && allCols.length) return false;
    colSig = sig;
    const c = [
      { key: "sel", title: "", w: 34, cls: "c-sel", sticky: 0, group: "run", nosort: true },
      { key: "marked", title: "★", w: 28, cls: "c-mark", sticky: 34, group: "run", get: (r) => (r[F.marked] ? 1 : 0), dir: -1 },
      { key: "id", title: "Run", w: 84, sticky: 62, group: "run", get: (r) => r[F.id] },
      { key: "operation", title: "Operation", group: "run", get: (r) => r[F.op] },
      { key: "started", title: "Started", w: 164, group: "run", get: (r) => r[F.started], fmt: fmtTime, dir: -1 },
      { key: "time", title: "Time", w: 74, cls: "num", group: "run", dir: -1,
        get: (r) => (r[F.started] == null ? null : (r[F.stopped] == null ? (r[F.status] === "running" ? Date.now() * 1000 : null) : r[F.stopped]) - r[F.started]),
        fmt: null },
      { key: "status", title: "Status", w: 106, group: "run", get: (r) => r[F.status] },
      { key: "label", title: "Label", group: "run", get: labelText },
    ];
    // scalars before flags: the numbers people compare sit within the first screen
    for (const n of scalarNames) c.push({ key: "scalar:" + n, title: n, group: "scalar", cls: "num", dir: -1, get: (r) => scalarOf(r, n), fmt: fmtNum });
    for (const n of flagNames) c.push({ key: "flag:" + n, title: n, group: "flag", get: (r) => flagOf(r, n) });
    c.push({ key: "tags", title: "Tags", group: "run", get: (r) => r[F.tags].join(" ") });
    for (const col of c) {
      if (!col.w) col.w = col.key === "label" ? Math.min(240, measure(col.get, col.title)) : Math.min(220, measure(col.get, col.title, col.fmt));
      if (col.key === "tags") col.w = Math.max(col.w, 90);
      if (col.group === "flag" && !col.cls) {
        const sample = rows.slice(0, 200).map(col.get).filter((v) => v !== undefined && v !== null);
        if (sample.length && sample.every((v) => typeof v === "number")) col.cls = "num";
      }
    }
    allCols = c;
    // a label that only repeats the flags (Guild's default label) is hidden unless asked for
    const labeled = rows.filter((r) => r[F.label]);
    labelRepeats = labeled.length === 0 || labeled.slice(0, 500).every((r) => typeof r[F.label] !== "string" || RY.labelRepeatsFlags(r[F.label], flagsObject(r)));
    layoutColumns();
    return true;
  }

  let labelRepeats = false;
  function isHidden(col) {
    if (col.key === "sel" || col.key === "id") return false;
    if (hiddenCols !== null) return hiddenCols.has(col.key);
    return col.key === "label" && labelRepeats;
  }

  /* visible columns: the fixed ones, then pinned (sticky), then the rest */
  function layoutColumns() {
    const fixed = allCols.filter((c) => c.key === "sel" || c.key === "marked" || c.key === "id");
    const pinned = pinnedCols.map((k) => allCols.find((c) => c.key === k)).filter((c) => c && !fixed.includes(c));
    const rest = allCols.filter((c) => !fixed.includes(c) && !pinned.includes(c));
    cols = [...fixed, ...pinned, ...rest].filter((c) => !isHidden(c));
    let left = 0;
    const css = [];
    cols.forEach((c, i) => {
      if (fixed.includes(c) || pinned.includes(c)) { c.sticky = left; left += c.w; } else delete c.sticky;
      // widths (and a pinned column's offset) live in one generated rule per column, not on each cell
      css.push(`#grid .k${i}{width:${c.w}px` + (c.sticky !== undefined ? `;left:${c.sticky}px}` : "}"));
      c.klass = `cell g-${c.group}` + (c.cls ? " " + c.cls : "") + (c.sticky !== undefined ? " sticky" : "") + ` k${i}`;
    });
    colStyle.textContent = css.join("\n");
  }
  const colStyle = document.head.appendChild(document.createElement("style"));

  function totalWidth() { return cols.reduce((s, c) => s + c.w, 0); }

  let headSig = "";
  function renderHead() {
    const sig = cols.map((c) => `${c.key}:${c.w}:${c.sticky}`).join("|") + `/${sort.key}/${sort.dir}`;
    if (sig === headSig) { syncSelectAll(); return; } // (a redraw would also lose a header's focus)
    headSig = sig;
    head.textContent = "";
    const groups = el("div", { class: "grid-row groups" });
    const spans = [];
    for (const c of cols) {
      const g = c.group;
      if (spans.length && spans[spans.length - 1].g === g) spans[spans.length - 1].w += c.w;
      else spans.push({ g, w: c.w });
    }
    for (const s of spans) {
      const t = s.g === "run" ? "" : s.g === "flag" ? "Flags" : "Scalars";
      groups.appendChild(el("div", { class: `cell g-${s.g}`, style: `width:${s.w}px`, text: t }));
    }
    const names = el("div", { class: "grid-row names" });
    for (const c of cols) {
      const cls = [c.klass];
      if (sort.key === c.key) { cls.push("sorted"); if (sort.dir > 0) cls.push("asc"); }
      const cell = el("div", { class: cls.join(" "), title: c.group === "run" ? c.title : `${c.group}: ${c.title}`, dataset: { key: c.key },
                               role: c.nosort ? null : "button", tabindex: c.nosort ? null : "0",
                               "aria-label": c.nosort ? null : `Sort by ${c.key === "marked" ? "marked" : c.title}` +
                                 (sort.key === c.key ? (sort.dir > 0 ? " (sorted ascending)" : " (sorted descending)") : "") });
      if (c.key === "sel") {
        const all = el("input", { type: "checkbox", "aria-label": "Select all runs shown" });
        all.addEventListener("change", () => {
          if (all.checked) view.forEach((r) => selected.add(r[F.id])); else selected.clear();
          refreshSelection();
        });
        cell.appendChild(all);
      } else {
        cell.textContent = c.title;
      }
      names.appendChild(cell);
    }
    head.appendChild(groups);
    head.appendChild(names);
    const w = totalWidth();
    inner.style.width = w + "px";
    syncSelectAll();
  }

  function syncSelectAll() {
    const all = head.querySelector(".c-sel input");
    if (!all) return;
    all.checked = view.length > 0 && view.every((r) => selected.has(r[F.id]));
    all.indeterminate = !all.checked && view.some((r) => selected.has(r[F.id]));
  }

  /* ---- rows --------------------------------------------------------------------------------- */

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const escRe = /[&<>"']/g, escTest = /[&<>"']/;
  /* Run text put in the rows' HTML is always escaped here (the table is built as one string:
     a few thousand createElement calls per scroll step cost more than the rows' whole layout). */
  function esc(v) { const t = String(v); return escTest.test(t) ? t.replace(escRe, (ch) => ESC[ch]) : t; }

  function cellHTML(c, r) {
    const id = r[F.id], open = `<div class="${c.klass}">`;
    switch (c.key) {
      case "sel":
        return open + `<input type="checkbox" aria-label="Select run ${esc(id.slice(0, 8))}" data-id="${esc(id)}"${selected.has(id) ? " checked" : ""}></div>`;
      case "marked": {
        const m = !!r[F.marked];
        return open + `<button type="button" class="${m ? "star" : "star off"}" title="${m ? "Marked (click to unmark)" : "Click to mark"}" ` +
          `aria-label="${m ? "Unmark" : "Mark"} run ${esc(id.slice(0, 8))}" aria-pressed="${m}" data-mark="${esc(id)}">★</button></div>`;
      }
      case "id": // (the first row's paint is timed: benchmarks/view_budgets.py reads it)
        return (r === view[0] ? `<div class="${c.klass}" elementtiming="runs-first-row">` : open) +
          `<a href="/run/${esc(id)}" title="${esc(id)}">${esc(id.slice(0, 8))}</a></div>`;
      case "time":
        return open + esc(fmtDuration(r[F.started], r[F.stopped], r[F.status])) + "</div>";
      case "status": {
        const st = esc(r[F.status] || "");
        return open + `<span class="status ${st}">${st}</span></div>`;
      }
      case "tags": {
        let h = open;
        for (const t of r[F.tags]) { const e = esc(t); h += `<span class="tag" title="${e}">${e}</span>`; }
        return h + "</div>";
      }
      default: {
        const v = c.get(r);
        if (v === undefined || v === null) return open + `<span class="null">${c.group === "run" ? "" : "–"}</span></div>`;
        const t = esc(c.fmt ? c.fmt(v) : fmtVal(v));
        return (c.key === "label" || c.group !== "run") ? `<div class="${c.klass}" title="${t}">${t}</div>` : open + t + "</div>";
      }
    }
  }

  /* The table's viewport, kept from scroll and resize events: reading scrollTop or clientHeight
     while drawing would force a layout of the page in the middle of building it. */
  let scrollTop = 0;
  let viewH = window.innerHeight;
  const HEAD_H = 52; // (the table head: two rows of 26 px, app.css)

  function renderRows(force) {
    // the first frame draws only the rows in view (a renderer's first layout is its slowest:
    // ~4 ms a row here), so it measures the table once, before any row is in it
    const over = rowsHTML === null ? 0 : 6;
    if (rowsHTML === null) viewH = grid.clientHeight;
    const st = Math.max(0, Math.min(scrollTop, view.length * ROW_H + HEAD_H - viewH));
    const top = Math.floor(st / ROW_H), bottom = Math.min(view.length, Math.ceil((st + viewH - HEAD_H) / ROW_H));
    // drawn rows that still cover the viewport stay (a scroll of a few rows draws nothing)
    const covered = rendered[0] <= top && rendered[1] >= bottom && rendered[1] - rendered[0] <= bottom - top + 24;
    if (!force && covered) return;
    // (a redraw keeps a window that still covers the viewport, so unchanged rows give the same HTML)
    const first = covered ? rendered[0] : Math.max(0, top - over);
    const last = Math.min(view.length, covered ? rendered[1] : bottom + over);
    rendered = [first, last];
    let h = "";
    for (let i = first; i < last; i++) {
      const r = view[i];
      h += `<div class="grid-row${selected.has(r[F.id]) ? " selected" : ""}${i === activeRow ? " active" : ""}" data-id="${esc(r[F.id])}">`;
      for (const c of cols) h += cellHTML(c, r);
      h += "</div>";
    }
    // the same rows drawn again (the whole list arriving after its newest runs, a poll with
    // nothing visible changed) leave the DOM alone: no style, layout or paint to redo
    const shift = `translateY(${first * ROW_H}px)`;
    if (shift !== rowsShift) { rowsShift = shift; rowsEl.style.transform = shift; }
    if (h !== rowsHTML) { rowsHTML = h; rowsEl.innerHTML = h; }
  }
  let rowsHTML = null, rowsShift = "";

  function renderAll() {
    body.style.height = view.length * ROW_H + "px";
    renderHead();
    renderRows(true);
    emptyEl.hidden = view.length > 0;
    if (!view.length) emptyEl.textContent = filterText ? "No runs match the filter." : (deleted ? "No deleted runs." : "No runs yet. Start one with: runyard run train.py");
    renderCounts();
    refreshButtons();
  }

  function renderCounts() {
    const n = view.length;
    document.getElementById("counts").textContent =
      `${fmtCount(n)} ${n === 1 ? "run" : "runs"}` + (filterText && total !== n ? ` of ${fmtCount(total)}` : "");
    const counts = {};
    for (const r of rows) counts[r[F.status]] = (counts[r[F.status]] || 0) + 1;
    const box = document.getElementById("statuses");
    box.textContent = "";
    for (const s of ["running", "completed", "error", "terminated", "pending", "staged"]) {
      if (!counts[s]) continue;
      const pill = el("span", { class: `status ${s}`, title: `Show ${s} runs`, text: `${s} ${fmtCount(counts[s])}` });
      pill.addEventListener("click", () => { filterInput.value = `attr:status = ${s}`; applyFilter(); });
      box.appendChild(pill);
    }
  }

  /* ---- sorting ------------------------------------------------------------------------------ */

  function cmp(a, b) {
    const an = a === undefined || a === null || a === "", bn = b === undefined || b === null || b === "";
    if (an || bn) return an && bn ? 0 : an ? 1 : -1;
    const ta = typeof a, tb = typeof b;
    if (ta === "number" && tb === "number") return a - b;
    if (ta === "number") return -1;
    if (tb === "number") return 1;
    if (ta === "boolean" && tb === "boolean") return (a ? 1 : 0) - (b ? 1 : 0);
    return textCompare(String(a), String(b));
  }

  function sortView() {
    const col = cols.find((c) => c.key === sort.key && c.get) || cols.find((c) => c.key === "started");
    const get = col.get, dir = sort.dir;
    const order = (a, b) => { // (equal values keep the list's order)
      const an = a === undefined || a === null || a === "", bn = b === undefined || b === null || b === "";
      if (an || bn) return an && bn ? 0 : an ? 1 : -1; // empty values last either way
      return dir * cmp(a, b);
    };
    let inOrder = true; // the list as it comes is newest first: often already in the order asked for
    for (let i = 1, prev = rows.length ? get(rows[0]) : null; i < rows.length; i++) {
      const v = get(rows[i]);
      if (order(prev, v) > 0) { inOrder = false; break; }
      prev = v;
    }
    if (inOrder) { view = rows.slice(); return; }
    const keyed = rows.map((r, i) => [get(r), i, r]);
    keyed.sort((x, y) => order(x[0], y[0]) || x[1] - y[1]);
    view = keyed.map((k) => k[2]);
  }

  head.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target.matches(".names .cell[tabindex]")) { e.preventDefault(); e.target.click(); }
  });
  head.addEventListener("click", (e) => {
    const cell = e.target.closest(".names .cell");
    if (!cell || e.target.tagName === "INPUT") return;
    const focusKey = cell.dataset.key;
    setTimeout(() => head.querySelector(`.names .cell[data-key="${CSS.escape(focusKey)}"]`)?.focus(), 0);
    const c = cols.find((x) => x.key === cell.dataset.key);
    if (!c || c.nosort) return;
    sort = sort.key === c.key ? { key: c.key, dir: -sort.dir } : { key: c.key, dir: c.dir || 1 };
    sortView();
    updateURL();
    renderAll();
  });

  /* ---- selection and actions ------------------------------------------------------------------ */

  function refreshSelection() {
    rowsHTML = null; // (the rows' DOM changes here, not through renderRows)
    rowsEl.querySelectorAll(".grid-row").forEach((row) => {
      const on = selected.has(row.dataset.id);
      row.classList.toggle("selected", on);
      const cb = row.querySelector(".c-sel input");
      if (cb) cb.checked = on;
    });
    syncSelectAll();
    refreshButtons();
  }

  function refreshButtons() {
    const n = selected.size;
    document.getElementById("sel-count").textContent = n ? `${n} selected` : "";
    const set = (id, on) => { const b = document.getElementById(id); if (b) b.disabled = !on; };
    set("btn-compare", n >= 1);
    const cmpBtn = document.getElementById("btn-compare");
    const over = n > MAX_COMPARE;
    cmpBtn.textContent = over ? `Compare first ${MAX_COMPARE}` : "Compare";
    cmpBtn.title = over ? `Compare shows at most ${MAX_COMPARE} runs: this compares the first ${MAX_COMPARE} shown; narrow the filter to choose others` : "Compare the selected runs";
    const warn = document.getElementById("sel-warn");
    warn.hidden = !over;
    warn.textContent = over ? `Compare takes at most ${MAX_COMPARE} runs — narrow the filter, or compare the first ${MAX_COMPARE}.` : "";
    set("btn-diff", n === 2);
    for (const id of ["btn-tag", "btn-mark", "btn-unmark", "btn-delete", "btn-restore", "btn-tb"]) set(id, n >= 1);
  }

  rowsEl.addEventListener("click", (e) => {
    const row = e.target.closest(".grid-row");
    if (!row) return;
    const id = row.dataset.id;
    if (e.target.matches(".c-sel input")) {
      if (e.shiftKey && lastClicked) {
        const i0 = view.findIndex((r) => r[F.id] === lastClicked), i1 = view.findIndex((r) => r[F.id] === id);
        if (i0 >= 0 && i1 >= 0) for (let i = Math.min(i0, i1); i <= Math.max(i0, i1); i++) selected.add(view[i][F.id]);
      } else if (e.target.checked) selected.add(id); else selected.delete(id);
      lastClicked = id;
      refreshSelection();
      return;
    }
    if (e.target.closest(".c-sel")) return;
    if (e.target.closest("[data-mark]")) {
      const r = view.find((x) => x[F.id] === id);
      act("mark", [id], { clear: !!(r && r[F.marked]) }).then(() => poll(true));
      return;
    }
    if (e.target.tagName === "A") return;
    if (e.ctrlKey || e.metaKey) window.open(`/run/${id}`, "_blank");
    else location.href = `/run/${id}`;
  });

  function selectedIds() {
    // oldest first, so a diff shows the older run on the left
    return view.filter((r) => selected.has(r[F.id])).sort((a, b) => (a[F.started] || 0) - (b[F.started] || 0)).map((r) => r[F.id]);
  }

  const on = (id, fn) => { const b = document.getElementById(id); if (b) b.addEventListener("click", fn); };
  on("btn-compare", () => {
    // the first N in the table's order (what the user sees), then oldest first within them
    const shown = view.filter((r) => selected.has(r[F.id])).slice(0, MAX_COMPARE).map((r) => r[F.id]);
    const keep = new Set(shown);
    location.href = "/compare?runs=" + selectedIds().filter((id) => keep.has(id)).join(",");
  });
  on("btn-diff", () => { const [a, b] = selectedIds(); location.href = `/diff/${a}/${b}`; });
  on("btn-tag", async () => {
    const v = await ask(`Tag ${selected.size} run${selected.size > 1 ? "s" : ""}`, { placeholder: "tag", hint: "Separate several tags with spaces.", ok: "Add tags" });
    if (!v || !v.trim()) return;
    if (await act("tag", [...selected], { add: v.trim().split(/\s+/) }, "Tagged")) poll(true);
  });
  on("btn-mark", async () => { if (await act("mark", [...selected], {}, "Marked")) poll(true); });
  on("btn-unmark", async () => { if (await act("mark", [...selected], { clear: true }, "Unmarked")) poll(true); });
  on("btn-delete", async () => {
    const n = selected.size;
    const ok = await ask(`Delete ${n} run${n > 1 ? "s" : ""}?`, { confirmOnly: true, ok: "Delete", hint: "Deleted runs go to the trash; restore them from the Deleted page." });
    if (!ok) return;
    if (await act("delete", [...selected], {}, `Deleted ${n} run${n > 1 ? "s" : ""}`)) { selected.clear(); poll(true); }
  });
  on("btn-restore", async () => {
    const n = selected.size;
    if (await act("restore", [...selected], {}, `Restored ${n} run${n > 1 ? "s" : ""}`)) { selected.clear(); poll(true); }
  });
  on("btn-tb", async () => {
    const w = window.open("about:blank", "_blank");
    toast("Starting TensorBoard…");
    try {
      const j = await RY.post("/api/tensorboard", { runs: [...selected] });
      if (w) w.location = j.url; else window.open(j.url, "_blank");
    } catch (e) { if (w) w.close(); toast(e.message, true); }
  });

  /* ---- filter ------------------------------------------------------------------------------- */

  function showError(msg) { // (the table's height changes: the resize observer redraws its rows)
    filterError.hidden = !msg;
    filterError.textContent = msg || "";
  }

  async function applyFilter() {
    const text = filterInput.value.trim();
    const ok = await load(text);
    if (ok) { filterText = text; updateURL(); }
  }

  document.getElementById("filter-form").addEventListener("submit", (e) => { e.preventDefault(); applyFilter(); });
  filterInput.addEventListener("search", () => { if (!filterInput.value) applyFilter(); });
  const helpBtn = document.getElementById("filter-help-btn");
  const help = document.getElementById("filter-help");
  helpBtn.addEventListener("click", () => { help.hidden = !help.hidden; helpBtn.setAttribute("aria-expanded", String(!help.hidden)); });
  help.addEventListener("click", (e) => {
    if (e.target.tagName === "CODE" && e.target.parentElement === help && e.target.textContent !== "runyard runs -F") {
      filterInput.value = e.target.textContent;
      applyFilter();
    }
  });

  /* ---- column chooser: show, hide, pin (kept in the URL: ?hide=...&pin=...) ----------------- */
  const colsBtn = document.getElementById("btn-cols");
  const colsPanel = document.getElementById("cols-panel");
  function renderColsPanel() {
    colsPanel.textContent = "";
    const list = el("div", { class: "cols-list" });
    allCols.filter((c) => c.key !== "sel" && c.key !== "id").forEach((c, i) => {
      const id = "colchk-" + i;
      const box = el("input", { type: "checkbox", id });
      box.checked = !isHidden(c);
      box.addEventListener("change", () => {
        if (hiddenCols === null) hiddenCols = new Set(allCols.filter(isHidden).map((x) => x.key));
        if (box.checked) hiddenCols.delete(c.key); else hiddenCols.add(c.key);
        relayout();
      });
      const isPinned = pinnedCols.includes(c.key);
      const pin = el("button", { type: "button", class: "ghost small pin", text: isPinned ? "Unpin" : "Pin", "aria-pressed": String(isPinned),
                                 "aria-label": `${isPinned ? "Unpin" : "Pin"} column ${c.title || c.key}` });
      pin.addEventListener("click", () => {
        pinnedCols = pinnedCols.includes(c.key) ? pinnedCols.filter((k) => k !== c.key) : [...pinnedCols, c.key];
        relayout();
        renderColsPanel();
        colsPanel.querySelector(`[aria-label$="column ${CSS.escape(c.title || c.key)}"]`)?.focus();
      });
      const group = c.group === "run" ? "" : c.group + ": ";
      list.appendChild(el("div", { class: "col-item" }, box, el("label", { for: id, text: group + (c.key === "marked" ? "Marked ★" : c.title) }), pin));
    });
    const reset = el("button", { type: "button", class: "ghost small", text: "Default columns" });
    reset.addEventListener("click", () => { hiddenCols = null; pinnedCols = []; relayout(); renderColsPanel(); });
    colsPanel.append(list, el("div", { class: "row" }, reset));
  }
  function relayout() { layoutColumns(); updateURL(); renderAll(); }
  colsBtn.addEventListener("click", () => {
    colsPanel.hidden = !colsPanel.hidden;
    colsBtn.setAttribute("aria-expanded", String(!colsPanel.hidden));
    if (!colsPanel.hidden) { renderColsPanel(); colsPanel.querySelector("input")?.focus(); }
  });
  colsPanel.addEventListener("keydown", (e) => { if (e.key === "Escape") { colsPanel.hidden = true; colsBtn.setAttribute("aria-expanded", "false"); colsBtn.focus(); } });

  /* ---- keyboard on the table: arrows move, Enter opens, Space selects --------------------------- */
  function setActive(i) {
    if (!view.length) return;
    activeRow = Math.max(0, Math.min(view.length - 1, i));
    const top = activeRow * ROW_H, bottom = top + ROW_H;
    const headH = head.offsetHeight;
    if (top < grid.scrollTop) grid.scrollTop = top;
    else if (bottom + headH > grid.scrollTop + grid.clientHeight) grid.scrollTop = bottom + headH - grid.clientHeight;
    scrollTop = grid.scrollTop;
    renderRows(true);
  }
  grid.addEventListener("keydown", (e) => {
    if (e.target !== grid) return;
    const page = Math.max(1, Math.floor(grid.clientHeight / ROW_H) - 2);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in moves) { setActive((activeRow < 0 ? -1 : activeRow) + moves[e.key]); e.preventDefault(); }
    else if (e.key === "Home") { setActive(0); e.preventDefault(); }
    else if (e.key === "End") { setActive(view.length - 1); e.preventDefault(); }
    else if (e.key === "Enter" && activeRow >= 0) { location.href = `/run/${view[activeRow][F.id]}`; e.preventDefault(); }
    else if (e.key === " " && activeRow >= 0) {
      const id = view[activeRow][F.id];
      if (selected.has(id)) selected.delete(id); else selected.add(id);
      refreshSelection();
      e.preventDefault();
    }
  });
  // keyboard focus (not a click, which would redraw the rows under the pointer) marks a first row
  grid.addEventListener("focus", () => { if (activeRow < 0 && view.length && grid.matches(":focus-visible")) setActive(0); });

  /* ---- suggestions of flag and scalar names while typing a filter ------------------------------ */
  const sugBox = document.getElementById("filter-suggest");
  let sugItems = [], sugIndex = -1;
  function names() {
    const out = ["attr:status", "attr:label", "attr:operation", "attr:tags", "attr:marked", "attr:started"];
    for (const c of allCols) if (c.group === "flag" || c.group === "scalar") out.push(c.key);
    return out;
  }
  function currentToken() {
    const pos = filterInput.selectionStart ?? filterInput.value.length;
    const before = filterInput.value.slice(0, pos);
    const m = before.match(/[^\s()\[\],]*$/);
    return { start: pos - m[0].length, end: pos, text: m[0] };
  }
  function closeSuggest() { sugBox.hidden = true; sugItems = []; sugIndex = -1; filterInput.setAttribute("aria-expanded", "false"); filterInput.removeAttribute("aria-activedescendant"); }
  function showSuggest() {
    const tok = currentToken();
    const q = tok.text.toLowerCase();
    if (!q) { closeSuggest(); return; }
    const bare = (n) => n.slice(n.indexOf(":") + 1).toLowerCase();
    sugItems = names().filter((n) => n.toLowerCase().startsWith(q) || bare(n).startsWith(q) || (q.length > 1 && bare(n).includes(q)))
      .filter((n) => n.toLowerCase() !== q).slice(0, 8);
    if (!sugItems.length) { closeSuggest(); return; }
    sugIndex = -1;
    sugBox.replaceChildren(...sugItems.map((n, i) => el("li", { role: "option", id: "sug-" + i, "aria-selected": "false", text: n,
      on: { mousedown: (e) => { e.preventDefault(); acceptSuggest(i); } } })));
    sugBox.hidden = false;
    filterInput.setAttribute("aria-expanded", "true");
  }
  function moveSuggest(d) {
    sugIndex = (sugIndex + d + sugItems.length) % sugItems.length;
    sugBox.querySelectorAll("li").forEach((li, i) => li.setAttribute("aria-selected", String(i === sugIndex)));
    filterInput.setAttribute("aria-activedescendant", "sug-" + sugIndex);
  }
  function acceptSuggest(i) {
    const tok = currentToken();
    const v = filterInput.value;
    const word = sugItems[i] + " ";
    filterInput.value = v.slice(0, tok.start) + word + v.slice(tok.end);
    const at = tok.start + word.length;
    filterInput.setSelectionRange(at, at);
    closeSuggest();
    filterInput.focus();
  }
  filterInput.addEventListener("input", showSuggest);
  filterInput.addEventListener("blur", () => setTimeout(closeSuggest, 100));
  filterInput.addEventListener("keydown", (e) => {
    if (sugBox.hidden) return;
    if (e.key === "ArrowDown") { moveSuggest(1); e.preventDefault(); }
    else if (e.key === "ArrowUp") { moveSuggest(-1); e.preventDefault(); }
    else if ((e.key === "Enter" || e.key === "Tab") && sugIndex >= 0) { acceptSuggest(sugIndex); e.preventDefault(); }
    else if (e.key === "Escape") { closeSuggest(); e.preventDefault(); }
  });

  /* ---- loading and live updates --------------------------------------------------------------- */

  function apiQuery(extra) { // "?..." or ""
    const p = new URLSearchParams(extra || {});
    if (deleted) p.set("deleted", "1");
    const q = p.toString();
    return q ? "?" + q : "";
  }

  /* Rows are kept as the compact list sends them (/api/runs?form=compact, see docs/view.md):
     a row's flags are [set, value, ...], the values in the order of the names of flag set `set`
     (and so are its scalars); a label that only repeats flags is their positions in that set
     (a list shared by the rows with the same one).
     Runs from live updates (/api/runs/changes: flags and scalars as objects) are put in the same
     form by intern(). */
  let fsets = [], ssets = [], fpos = [], spos = [], setIndex = new Map();
  const NO_TAGS = Object.freeze([]);
  function addSets(names, sets, pos, tag) {
    for (const ks of names) {
      const at = {};
      ks.forEach((k, i) => { at[k] = i; });
      setIndex.set(tag + ks.join("\u0000"), sets.length);
      sets.push(ks);
      pos.push(at);
    }
  }
  function setOf(keys, sets, pos, tag) {
    const key = tag + keys.join("\u0000");
    if (!setIndex.has(key)) addSets([keys], sets, pos, tag);
    return setIndex.get(key);
  }
  function decode(j) {
    if (j.form !== "compact") return (j.runs || []).map(intern);
    fsets = []; ssets = []; fpos = []; spos = []; setIndex = new Map();
    addSets(j.flag_sets, fsets, fpos, "f");
    addSets(j.scalar_sets, ssets, spos, "s");
    const ops = j.operations, statuses = j.statuses, labels = j.labels, rows = j.runs;
    for (let n = 0; n < rows.length; n++) {
      const r = rows[n];
      r[1] = ops[r[1]]; r[4] = statuses[r[4]]; r[8] = r[8] === 1;
      if (typeof r[6] === "number") r[6] = labels[r[6]];
      if (r[7] === 0) r[7] = NO_TAGS;
    }
    return rows;
  }
  function intern(r) { // a run of the documented form (flags and scalars as objects)
    const f = r[F.flags] || {}, sc = r[F.scalars] || {};
    const fk = Object.keys(f), sk = Object.keys(sc);
    const out = r.slice();
    out[F.flags] = [setOf(fk, fsets, fpos, "f"), ...fk.map((k) => f[k])];
    out[F.scalars] = [setOf(sk, ssets, spos, "s"), ...sk.map((k) => sc[k])];
    return out;
  }
  const flagOf = (r, n) => { const v = r[F.flags], p = fpos[v[0]][n]; return p === undefined ? undefined : v[p + 1]; };
  const scalarOf = (r, n) => { const v = r[F.scalars], p = spos[v[0]][n]; return p === undefined ? undefined : v[p + 1]; };
  function flagsObject(r) {
    const v = r[F.flags], ks = fsets[v[0]], o = {};
    ks.forEach((k, i) => { o[k] = v[i + 1]; });
    return o;
  }
  function labelText(r) {
    const lab = r[F.label];
    if (typeof lab === "string") return lab;
    const v = r[F.flags], ks = fsets[v[0]];
    let t = "";
    for (let i = 0; i < lab.length; i++) t += (i ? " " : "") + ks[lab[i]] + "=" + v[lab[i] + 1];
    return t;
  }
  /* the rows in the documented form (what the tests compare with /api/runs) */
  window.__runyardRows = () => rows.map((r) => {
    const v = r[F.scalars], o = r.slice(), sc = {};
    ssets[v[0]].forEach((k, i) => { sc[k] = v[i + 1]; });
    o[F.label] = labelText(r); o[F.flags] = flagsObject(r); o[F.scalars] = sc;
    return o;
  });

  /* after the next frame is drawn (or 200 ms, in a tab in the background: it draws no frames) */
  const painted = () => new Promise((done) => { requestAnimationFrame(() => setTimeout(done, 0)); setTimeout(done, 200); });

  const FIRST = 200; // a big home: draw the newest runs first, then the whole list
  async function load(text, first, pending) {
    const seq = ++loadSeq;
    const f = text === undefined ? filterText : text;
    first = first && !f && sort.key === "started" && sort.dir < 0; // (the newest runs are the first rows)
    try {
      const q = Object.assign({ form: "compact" }, f ? { filter: f } : (first ? { limit: String(FIRST) } : {}));
      const inline = first && document.getElementById("runs-first");
      const j = inline ? JSON.parse(inline.textContent) : await (pending || getJSON("/api/runs" + apiQuery(q)));
      // the whole list is asked for now: it downloads while the newest runs are drawn (and is
      // read once they are painted: its parse would otherwise hold their frame back)
      const rest = j.partial ? fetch("/api/runs" + apiQuery(Object.assign({ form: "compact" }, f ? { filter: f } : {})),
                                     { credentials: "same-origin" }) : null;
      if (rest) rest.catch(() => {}); // (a failure is shown when it is read)
      if (seq !== loadSeq) return false;
      if (j.indexing) { // a first listing of a big home: show how far it got, ask again soon
        const { done, total: n } = j.indexing;
        emptyEl.hidden = false;
        emptyEl.textContent = `Indexing ${fmtCount(n)} runs…` + (done ? ` ${fmtCount(done)} read` : "");
        document.getElementById("counts").textContent = `indexing ${fmtCount(n)} runs`;
        await new Promise((res) => setTimeout(res, 300));
        return seq === loadSeq ? load(text) : false;
      }
      showError("");
      rows = decode(j);
      version = j.version;
      total = j.total;
      if (text !== undefined) filterText = text;
      if (selected.size) { // (a set of 10,000 ids costs ~20 ms: only made when something is selected)
        const ids = new Set(rows.map((r) => r[F.id]));
        for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);
      }
      buildColumns(j.names);
      sortView();
      renderAll();
      if (j.partial) {
        document.getElementById("counts").textContent = `${rows.length} newest of ${fmtCount(j.total)} runs…`;
        window.__runyardFirstRows = performance.now();
        await painted();
        return load(text, false, rest.then(RY.readJSON));
      }
      window.__runyardAllRows = performance.now();
      return true;
    } catch (e) {
      if (seq === loadSeq) showError(e.message);
      return false;
    }
  }

  let pollTimer = null;
  let polling = false;
  async function poll(now) {
    clearTimeout(pollTimer);
    if (polling) { pollTimer = setTimeout(poll, 300); return; }
    if (!document.hidden || now) {
      polling = true;
      const seq = loadSeq;
      try {
        const j = await getJSON("/api/runs/changes" + apiQuery(Object.assign({ since: version }, filterText ? { filter: filterText } : {})));
        if (seq === loadSeq && !j.indexing) {
          if (j.reload) await load();
          else if (j.runs.length || j.removed.length) {
            const gone = new Set(j.removed);
            const changed = new Map(j.runs.map((r) => [r[F.id], intern(r)]));
            const next = [];
            for (const r of rows) {
              const id = r[F.id];
              if (gone.has(id)) { selected.delete(id); continue; }
              if (changed.has(id)) { next.push(changed.get(id)); changed.delete(id); } else next.push(r);
            }
            for (const r of changed.values()) next.push(r);
            rows = next;
            version = j.version;
            total = j.total;
            buildColumns();
            sortView();
            renderAll();
          } else {
            version = j.version;
            if (rows.some((r) => r[F.status] === "running")) renderRows(true);
          }
        }
      } catch (e) { /* the server may be restarting; try again later */ }
      polling = false;
    }
    pollTimer = setTimeout(poll, POLL_MS);
  }

  let raf = 0;
  grid.addEventListener("scroll", () => {
    if (raf) return;
    raf = requestAnimationFrame(() => { raf = 0; scrollTop = grid.scrollTop; renderRows(false); });
  }, { passive: true });
  new ResizeObserver((entries) => {
    const h = entries[entries.length - 1].contentRect.height;
    if (h !== viewH) { viewH = h; renderRows(false); }
  }).observe(grid);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(true); });

  load(undefined, true).then(() => { updateURL(); pollTimer = setTimeout(poll, POLL_MS); });
})();
