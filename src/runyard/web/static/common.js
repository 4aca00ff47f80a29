/* runyard: helpers shared by every page. Run text is only ever put in the page as text
   (textContent / createTextNode), never as HTML — except the runs table's rows, built as one
   HTML string in which runs.js's esc() escapes every value. */
"use strict";

const RY = (() => {
  const meta = document.querySelector('meta[name="runyard-token"]');
  const token = meta ? meta.content : "";

  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = v;
        else if (k === "style") e.style.cssText = v;
        else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
        else if (k === "dataset") Object.assign(e.dataset, v);
        else if (k in e && typeof v !== "string") e[k] = v;
        else e.setAttribute(k, v === true ? "" : v);
      }
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.appendChild(typeof kid === "string" || typeof kid === "number" ? document.createTextNode(String(kid)) : kid);
    }
    return e;
  }

  async function getJSON(url, opts) {
    return readJSON(await fetch(url, Object.assign({ credentials: "same-origin" }, opts || {})));
  }

  /* a fetch's answer as JSON (an error answer throws its message) */
  async function readJSON(r) {
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (!r.ok) throw new Error((j && j.error) || `${r.status} ${r.statusText}`);
    return j;
  }

  function post(url, body) {
    return getJSON(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Runyard-Token": token },
      body: JSON.stringify(body || {}),
    });
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  function fmtTime(us) {
    if (us === null || us === undefined) return "";
    const d = new Date(us / 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  /* 12,345: the runs page's counts (not toLocaleString, whose first call starts ICU: ~20-80 ms) */
  function fmtCount(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  function fmtDuration(started, stopped, status) {
    if (started === null || started === undefined) return "";
    let end = stopped;
    if (end === null || end === undefined) {
      if (status !== "running") return "";
      end = Date.now() * 1000;
    }
    const s = Math.max(0, Math.floor((end - started) / 1e6));
    return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  }

  function fmtNum(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return isNaN(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4).replace(/\.?0+e/, "e");
    return String(parseFloat(v.toPrecision(6)));
  }

  function fmtVal(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return fmtNum(v);
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function fmtSize(n) {
    if (n === null || n === undefined) return "";
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${u[i]}`;
  }

  function statusPill(status) {
    return el("span", { class: `status ${status || ""}`, text: status || "" });
  }

  let toastTimer = null;
  function toast(msg, bad) {
    let t = document.querySelector(".toast");
    if (!t) { t = el("div", { class: "toast", role: "status" }); document.body.appendChild(t); }
    t.textContent = msg;
    t.classList.toggle("bad", !!bad);
    t.style.display = "block";
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.style.display = "none"; }, bad ? 6000 : 2500);
  }

  /* A small modal asking for text (or just confirmation when no input is wanted). */
  function ask(title, opts) {
    opts = opts || {};
    return new Promise((resolve) => {
      const input = opts.confirmOnly ? null :
        (opts.multiline ? el("textarea", { placeholder: opts.placeholder || "" })
                        : el("input", { type: "text", placeholder: opts.placeholder || "" }));
      if (input && opts.value) input.value = opts.value;
      const ok = el("button", { type: "submit", class: opts.danger ? "primary danger-fill" : "primary", text: opts.ok || "OK" });
      const cancel = el("button", { type: "button", text: "Cancel" });
      const form = el("form", { method: "dialog" },
        el("h2", { text: title }),
        opts.hint ? el("div", { class: "hint", text: opts.hint }) : null,
        input,
        el("div", { class: "row" }, cancel, ok));
      const dlg = el("dialog", { class: "ask" }, form);
      document.body.appendChild(dlg);
      let done = false;
      const finish = (v) => { if (done) return; done = true; dlg.close(); dlg.remove(); resolve(v); };
      cancel.addEventListener("click", () => finish(null));
      dlg.addEventListener("cancel", () => finish(null));
      form.addEventListener("submit", (e) => { e.preventDefault(); finish(input ? input.value : true); });
      dlg.showModal();
      if (input) input.focus();
    });
  }

  async function act(action, runs, body, okMsg) {
    try {
      await post(`/api/runs/${action}`, Object.assign({ runs }, body || {}));
      if (okMsg) toast(okMsg);
      return true;
    } catch (e) {
      toast(e.message, true);
      return false;
    }
  }

  const palette = ["#2f6fde", "#e8590c", "#0f9d58", "#c2185b", "#7e57c2", "#00838f", "#c0a000", "#6d4c41",
                   "#5c6bc0", "#d84315", "#2e7d32", "#ad1457", "#00897b", "#8e24aa", "#f9a825", "#546e7a"];

  /* A label that only repeats the run's flags ("lr=0.1 units=64", Guild's default label). */
  function labelRepeatsFlags(label, flags) {
    const words = String(label || "").trim().split(/\s+/).filter(Boolean);
    if (!words.length) return true;
    return words.every((w) => { const i = w.indexOf("="); return i > 0 && Object.prototype.hasOwnProperty.call(flags || {}, w.slice(0, i)); });
  }

  /* "Back to runs" keeps the runs page's filter, sort and columns (remembered per tab). */
  function runsURL() {
    try { return sessionStorage.getItem("runyard.runsURL") || "/"; } catch (e) { return "/"; }
  }
  document.addEventListener("DOMContentLoaded", () => setTimeout(() => { // (after the first paint)
    const back = runsURL();
    document.querySelectorAll('a.back-to-runs, .topbar nav a[data-nav="runs"]').forEach((a) => { if (back.startsWith("/?") || back === "/") a.href = back; });
  }, 0));

  return { token, el, getJSON, readJSON, fmtCount, labelRepeatsFlags, runsURL, post, fmtTime, fmtDuration, fmtNum, fmtVal, fmtSize, statusPill, toast, ask, act, palette };
})();
