// Draws a small line chart of a post's metrics over time as inline SVG (no libraries, no CDN).
(function () {
  "use strict";
  var SERIES = [["impressions", "#1849a9"], ["reach", "#7a5af8"], ["likes", "#067647"], ["comments", "#b54708"],
                ["shares", "#c11574"]];
  var NS = "http://www.w3.org/2000/svg";

  function node(tag, attrs, text) {
    var n = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function draw(box) {
    var data = JSON.parse(document.getElementById(box.dataset.series).textContent || "[]");
    if (!data.length) return;
    var W = 640, H = 240, L = 48, R = 12, T = 12, B = 28;
    var times = data.map(function (d) { return Date.parse(d.t); });
    var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
    var max = 1;
    // null = the platform did not give that number at that sync: a gap in the line, never a 0.
    data.forEach(function (d) { SERIES.forEach(function (s) { if (d[s[0]] !== null) max = Math.max(max, d[s[0]]); }); });
    var x = function (t) { return L + (t1 === t0 ? (W - L - R) / 2 : (t - t0) / (t1 - t0) * (W - L - R)); };
    var y = function (v) { return T + (1 - v / max) * (H - T - B); };
    var svg = node("svg", {viewBox: "0 0 " + W + " " + H, "class": "chart"});
    [0, 0.5, 1].forEach(function (f) {
      var v = Math.round(max * f);
      svg.appendChild(node("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e4e7ec"}));
      svg.appendChild(node("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#667085"}, v));
    });
    // Labels come from the server, written as every staff page writes times (the club's clock and style).
    var first = data[times.indexOf(t0)], last = data[times.indexOf(t1)];
    [first, last].forEach(function (d, i) {
      if (i && t1 === t0) return;
      svg.appendChild(node("text", {x: i ? W - R : L, y: H - 8, "text-anchor": i ? "end" : "start", "font-size": 11,
                                     fill: "#667085", "class": "chart-time"}, d.label));
    });
    SERIES.forEach(function (s) {
      var points = data.map(function (d, i) { return d[s[0]] === null ? null : x(times[i]) + "," + y(d[s[0]]); })
        .filter(function (p) { return p !== null; }).join(" ");
      svg.appendChild(node("polyline", {points: points, fill: "none", stroke: s[1], "stroke-width": 2,
                                        "data-metric": s[0]}));
      data.forEach(function (d, i) {
        if (d[s[0]] === null) return;
        var dot = node("circle", {cx: x(times[i]), cy: y(d[s[0]]), r: 3, fill: s[1]});
        dot.appendChild(node("title", {}, d.label + " · " + s[0] + ": " + d[s[0]]));
        svg.appendChild(dot);
      });
    });
    box.appendChild(svg);
    var legend = document.createElement("div");
    legend.className = "legend";
    SERIES.forEach(function (s) {
      var item = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = s[1];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s[0]));
      legend.appendChild(item);
    });
    box.appendChild(legend);
  }

  document.querySelectorAll(".metrics-chart[data-series]").forEach(draw);
})();
