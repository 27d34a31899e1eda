/* sipscope charts: the report model's charts (reports/model.rs `Chart`, as JSON) drawn with
 * Chart.js. Shared by the self-contained HTML report (inlined) and the dashboard (served as
 * /assets/sipscope-charts.js). Every text is drawn on a canvas (labels, legends, tooltips), so
 * attacker text never becomes markup; nothing here writes HTML. */
(function () {
  'use strict';
  var PALETTE = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];
  var DATE = /^\d{4}-\d{2}-\d{2}/;
  var registered = false;

  function register() {
    if (registered || typeof window.Chart === 'undefined') return;
    registered = true;
    var extra = [];
    if (window.ChartZoom) extra.push(window.ChartZoom);
    if (window.MatrixController) extra.push(window.MatrixController, window.MatrixElement);
    if (extra.length) window.Chart.register.apply(window.Chart, extra);
  }

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : 0;
  }

  /* Whether a chart has anything to draw. */
  function hasData(c) {
    if (!c || typeof c !== 'object') return false;
    switch (c.kind) {
      case 'bars':
        return Array.isArray(c.labels) && c.labels.length > 0 && Array.isArray(c.series) &&
          c.series.some(function (s) { return Array.isArray(s[1]) && s[1].some(function (v) { return num(v) !== 0; }); });
      case 'bubbles':
        return Array.isArray(c.points) && c.points.length > 0;
      case 'matrix':
        return Array.isArray(c.labels) && c.labels.length > 0;
      case 'hilbert':
        return Array.isArray(c.cells) && c.cells.length > 0;
      default:
        return false;
    }
  }

  /* Labels that are days or hours: a time series, zoomable along x. */
  function isTime(labels) {
    return labels.length > 1 && labels.every(function (l) { return DATE.test(String(l)); });
  }

  function zoom(mode) {
    return {
      zoom: { wheel: { enabled: true }, drag: { enabled: true }, pinch: { enabled: true }, mode: mode },
      limits: { x: { minRange: 1 } }
    };
  }

  function dayText(v) {
    var d = new Date(v * 86400000);
    return isNaN(d.getTime()) ? String(v) : d.toISOString().slice(0, 10);
  }

  function bars(c) {
    var labels = c.labels.map(String);
    var time = isTime(labels);
    var datasets = c.series.map(function (s, k) {
      return { label: String(s[0]), data: (s[1] || []).map(num), backgroundColor: PALETTE[k % PALETTE.length] };
    });
    var yTitle = datasets.length === 1 ? datasets[0].label : 'count';
    /* `stacked: false` (the dashboard's funnels): bars side by side. */
    var stacked = c.stacked !== false;
    return {
      type: 'bar',
      data: { labels: labels, datasets: datasets },
      options: {
        scales: {
          x: { stacked: stacked, title: { display: time, text: time ? 'time' : '' }, ticks: { autoSkip: true, maxRotation: 60 } },
          y: { stacked: stacked, beginAtZero: true, title: { display: true, text: yTitle } }
        },
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: { mode: 'index', intersect: false },
          zoom: time ? zoom('x') : undefined
        }
      },
      zoomable: time
    };
  }

  function bubbles(c) {
    var axes = Array.isArray(c.axes) ? c.axes.map(String) : ['x', 'y'];
    var smax = Math.max.apply(null, [1].concat(c.points.map(function (p) { return num(p[3]); })));
    var xDays = /day/i.test(axes[0]) && c.points.every(function (p) { return num(p[1]) > 3650; });
    var data = c.points.map(function (p) {
      return { x: num(p[1]), y: num(p[2]), r: 4 + 20 * Math.sqrt(Math.max(0, num(p[3])) / smax), label: String(p[0]), size: num(p[3]) };
    });
    var fmtX = function (v) { return xDays ? dayText(v) : String(v); };
    return {
      type: 'bubble',
      data: { datasets: [{ label: 'points', data: data, backgroundColor: 'rgba(51,102,204,0.5)', borderColor: '#3366cc' }] },
      options: {
        scales: {
          x: { title: { display: true, text: axes[0] }, ticks: { callback: fmtX }, grace: '5%' },
          y: { title: { display: true, text: axes[1] }, beginAtZero: true, grace: '10%' }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var p = ctx.raw || {};
                return p.label + ': ' + axes[0] + ' ' + fmtX(p.x) + ', ' + axes[1] + ' ' + p.y + ', size ' + p.size;
              }
            }
          },
          zoom: zoom('xy')
        }
      },
      zoomable: true
    };
  }

  function matrix(c) {
    var labels = c.labels.map(String);
    var n = labels.length;
    var data = [];
    var max = 1;
    (c.values || []).forEach(function (row, r) {
      (row || []).forEach(function (v, k) {
        if (r < n && k < n) {
          data.push({ x: labels[k], y: labels[r], v: num(v) });
          max = Math.max(max, num(v));
        }
      });
    });
    return {
      type: 'matrix',
      data: {
        datasets: [{
          label: 'values',
          data: data,
          backgroundColor: function (ctx) {
            var v = ctx.raw ? ctx.raw.v : 0;
            var shade = Math.round(255 - (v / max) * 200);
            return 'rgb(' + shade + ',' + shade + ',255)';
          },
          borderColor: '#ffffff',
          borderWidth: 1,
          width: function (ctx) { var a = ctx.chart.chartArea; return a ? a.width / n - 1 : 10; },
          height: function (ctx) { var a = ctx.chart.chartArea; return a ? a.height / n - 1 : 10; }
        }]
      },
      options: {
        scales: {
          x: { type: 'category', labels: labels, offset: true, grid: { display: false }, title: { display: true, text: 'column' } },
          y: { type: 'category', labels: labels, offset: true, reverse: true, grid: { display: false }, title: { display: true, text: 'row' } }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function () { return ''; },
              label: function (ctx) { var p = ctx.raw || {}; return p.y + ' × ' + p.x + ': ' + p.v; }
            }
          }
        }
      },
      square: true
    };
  }

  function hilbert(c) {
    var side = Math.max(1, num(c.side));
    var data = c.cells.map(function (cell) { return { x: num(cell[0]), y: num(cell[1]), v: num(cell[2]) }; });
    return {
      type: 'matrix',
      data: {
        datasets: [{
          label: 'addresses',
          data: data,
          backgroundColor: function (ctx) {
            var t = ctx.raw ? ctx.raw.v : 0;
            return 'rgb(' + Math.round(t * 255) + ',60,' + Math.round((1 - t) * 255) + ')';
          },
          width: function (ctx) { var a = ctx.chart.chartArea; return a ? a.width / side : 10; },
          height: function (ctx) { var a = ctx.chart.chartArea; return a ? a.height / side : 10; }
        }]
      },
      options: {
        scales: {
          x: { type: 'linear', min: -0.5, max: side - 0.5, ticks: { stepSize: 8 }, title: { display: true, text: 'Hilbert x' } },
          y: { type: 'linear', min: -0.5, max: side - 0.5, reverse: true, ticks: { stepSize: 8 }, title: { display: true, text: 'Hilbert y' } }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function () { return ''; },
              label: function (ctx) {
                var p = ctx.raw || {};
                return 'cell (' + p.x + ', ' + p.y + '): hit at ' + Math.round(p.v * 100) + '% of the scan (blue first, red last)';
              }
            }
          },
          zoom: zoom('xy')
        }
      },
      zoomable: true,
      square: true
    };
  }

  /* The Chart.js configuration of one model chart, with `zoomable` and `square` hints. */
  function config(c) {
    var built;
    switch (c.kind) {
      case 'bars': built = bars(c); break;
      case 'bubbles': built = bubbles(c); break;
      case 'matrix': built = matrix(c); break;
      case 'hilbert': built = hilbert(c); break;
      default: return null;
    }
    built.options.responsive = true;
    built.options.maintainAspectRatio = false;
    built.options.animation = false;
    return built;
  }

  /* Draws chart `c` on `canvas`; returns the Chart.js object or null. Double-click resets zoom. */
  function draw(canvas, c) {
    register();
    if (typeof window.Chart === 'undefined' || !hasData(c)) return null;
    var built = config(c);
    if (!built) return null;
    var zoomable = built.zoomable;
    var square = built.square;
    delete built.zoomable;
    delete built.square;
    if (square && canvas.parentNode && canvas.parentNode.classList) canvas.parentNode.classList.add('square');
    var chart = new window.Chart(canvas, built);
    if (zoomable) {
      canvas.addEventListener('dblclick', function () { if (chart.resetZoom) chart.resetZoom(); });
      canvas.setAttribute('data-zoom', '1');
    }
    canvas.setAttribute('data-drawn', '1');
    return chart;
  }

  /* The report page: charts from the application/json script element #sipscope-charts, one
   * per canvas with data-chart="N". */
  function drawAll(doc) {
    var holder = doc.getElementById('sipscope-charts');
    if (!holder) return 0;
    var charts;
    try {
      charts = JSON.parse(holder.textContent || '[]');
    } catch (e) {
      return 0;
    }
    var drawn = 0;
    var canvases = doc.querySelectorAll('canvas[data-chart]');
    for (var i = 0; i < canvases.length; i++) {
      var k = Number(canvases[i].getAttribute('data-chart'));
      if (Array.isArray(charts) && k >= 0 && k < charts.length && draw(canvases[i], charts[k])) drawn++;
    }
    doc.body.setAttribute('data-charts-drawn', String(drawn));
    return drawn;
  }

  window.SipscopeCharts = { draw: draw, drawAll: drawAll, hasData: hasData, config: config };
})();
