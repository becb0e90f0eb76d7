// Draws the admin model page's live quality per day (Chart.js, vendored in portal/vendor/) from the JSON
// that the page carries in #quality-chart-data (json_script). A static file: the CSP allows no inline script.
(function () {
  "use strict";
  var canvas = document.getElementById("quality-chart");
  var source = document.getElementById("quality-chart-data");
  if (!canvas || !source || !window.Chart) { return; }
  var data = JSON.parse(source.textContent);
  var status = document.getElementById("quality-chart-status");
  var labelled = data.counts.reduce(function (a, b) { return a + b; }, 0);
  window.qualityChart = new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.days.map(function (d) { return d.slice(5); }),
      datasets: [{
        label: data.label,
        data: data.values,
        borderColor: "#0969da",
        backgroundColor: "#0969da",
        spanGaps: false,
      }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            afterLabel: function (item) { return data.counts[item.dataIndex] + " feedback rows"; },
          },
        },
      },
      scales: { y: data.figure === "accuracy" ? { min: 0, max: 1 } : { beginAtZero: true } },
    },
  });
  status.textContent = labelled ? labelled + " feedback rows over the period." : "No feedback in the last 30 days.";
  canvas.dataset.drawn = "true";
})();
