// Draws the usage dashboard's charts (Chart.js, vendored in portal/vendor/) from the portal's own JSON
// endpoint (#usage-chart's data-url, session cookie). A static file: the CSP allows script only from self.
(function () {
  "use strict";
  var root = document.getElementById("usage-chart");
  if (!root || !window.Chart) { return; }
  var daysSelect = document.getElementById("chart-days");
  var splitSelect = document.getElementById("chart-split");
  var status = document.getElementById("chart-status");
  var currency = root.dataset.currency;
  var palette = ["#0969da", "#1a7f37", "#bf3989", "#9a6700", "#8250df", "#cf222e", "#0a3069", "#57606a"];
  var charts = {};

  function draw(id, title, labels, datasets) {
    if (charts[id]) { charts[id].destroy(); }
    charts[id] = new window.Chart(document.getElementById(id), {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: title }, legend: { position: "bottom" } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      },
    });
  }

  function load() {
    var url = root.dataset.url + "?days=" + daysSelect.value + "&split=" + splitSelect.value;
    status.textContent = "Loading…";
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var labels = data.days.map(function (d) { return d.slice(5); });
        var series = data.series;
        draw("chart-predictions", "Predictions per day", labels, series.map(function (s, i) {
          return { label: s.label, data: s.predictions, backgroundColor: palette[i % palette.length] };
        }));
        draw("chart-cost", "Cost per day (" + currency + ")", labels, series.map(function (s, i) {
          return { label: s.label, data: s.cost.map(Number), backgroundColor: palette[i % palette.length] };
        }));
        status.textContent = series.length ? "" : "No usage in this period yet.";
        root.dataset.loaded = url;
      })
      .catch(function (error) { status.textContent = "Could not load the chart: " + error.message; });
  }

  daysSelect.addEventListener("change", load);
  splitSelect.addEventListener("change", load);
  load();
})();
