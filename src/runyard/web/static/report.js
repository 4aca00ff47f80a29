/* runyard: charts of a self-contained run report (data inlined in #report-data). */
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const box = document.getElementById("charts");
  const logBox = document.getElementById("chart-log");
  const charts = [];
  const prefs = RYCharts.bindControls(document.querySelector(".chart-toolbar"),
    (w) => charts.forEach((c) => c.setSmoothing(w)), (m) => charts.forEach((c) => c.setXMode(m)));
  for (const [tag, items] of RYCharts.groupByTag(data.series)) {
    const plot = RY.el("div", { class: "plot" });
    const down = items.some((s) => s.downsampled);
    box.appendChild(RY.el("div", { class: "chart-card" },
      RY.el("h3", {}, RY.el("span", { text: tag }), RY.el("span", { class: "note", text: down ? "downsampled (min/max kept)" : "" })), plot));
    const series = items.map((s, i) => Object.assign({}, s, { label: items.length > 1 ? s.key : s.tag, color: RY.palette[i % RY.palette.length] }));
    const chart = RYCharts.chartFor(plot, { series, height: 240, smoothing: prefs.smoothing, xMode: prefs.xMode,
                                            onReset: () => chart.setSeries(series, false) });
    charts.push(chart);
  }
  if (logBox) logBox.addEventListener("change", () => charts.forEach((c) => c.setLog(logBox.checked)));
})();
