/* The dashboard's entry point: takes the token from the fragment, wires the filter form
 * (time range and nodes, applied to every view and call) and its quick ranges (whole UTC
 * hours, from the server), routes `#/view[/arg]` to a view, and starts the live feed. */
(function () {
  'use strict';
  var SS = window.SS;

  function route() {
    var m = /^#\/([a-z]+)(?:\/([^?]*))?/.exec(location.hash) || [null, 'overview', ''];
    var name = m[1];
    var arg = m[2] ? decodeURIComponent(m[2]) : '';
    // Each visit draws into a container of its own: an answer that arrives after the operator
    // moved on (a slow report, a list) fills a detached element, never the page now shown.
    var root = SS.clear(document.getElementById('view')).appendChild(SS.h('div', { class: 'page' }));
    SS.live.onEvent = SS.live.onAlert = null;
    SS.live.onDecision = null;
    SS.say('');
    var tabs = document.querySelectorAll('#tabs a[data-view]');
    for (var i = 0; i < tabs.length; i++) {
      tabs[i].className = tabs[i].getAttribute('data-view') === name ? 'active' : '';
    }
    document.body.setAttribute('data-view', name);
    if (name === 'source' && arg) {
      SS.views.source(root, arg);
      SS.live.onDecision = function () { if (SS.views.source.reload) SS.views.source.reload(); };
    } else if (SS.views[name] && name !== 'source') {
      SS.views[name](root, arg);
      if (name === 'decisions') SS.live.onDecision = function () { if (SS.views.decisions.refresh) SS.views.decisions.refresh(); };
    } else {
      SS.views.overview(root);
    }
  }

  function fillForm() {
    var f = SS.filters();
    document.getElementById('f-from').value = f.from;
    document.getElementById('f-to').value = f.to;
    document.getElementById('f-node').value = f.nodes.join(',');
  }

  function readForm() {
    var nodes = document.getElementById('f-node').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    SS.setFilters({ from: document.getElementById('f-from').value.trim(), to: document.getElementById('f-to').value.trim(), nodes: nodes });
  }

  /* `2026-12-06T20:00:00Z` for the API's `2026-12-06T20:00:00.000000000Z`. */
  function shortTime(t) {
    return String(t).replace(/\.0+Z$/, 'Z');
  }

  /* The quick range buttons, from the server's list (GET /api/v1/ranges: the ranges whose
   * reports it keeps ready). Each starts at the beginning of the UTC hour it reaches back to;
   * a click asks the server again for this hour's start (its clock, not the browser's), shows
   * it in the `from` field and applies it. */
  function quickRanges() {
    var box = document.getElementById('quick');
    SS.get('/ranges', {}, true).then(function (data) {
      SS.clear(box);
      ((data && data.ranges) || []).forEach(function (r) {
        var title = r.from ? 'since ' + shortTime(r.from) + ': the start of the UTC hour ' + r.label + ' ago' : 'everything stored';
        box.appendChild(SS.h('button', { type: 'button', 'data-range': r.seconds, title: title, on: { click: function () { pick(r.label); } } }, r.label));
      });
    }).catch(function () { /* no token: the message already says how to get one */ });
  }

  function pick(label) {
    SS.get('/ranges', {}, true).then(function (data) {
      var r = ((data && data.ranges) || []).filter(function (x) { return x.label === label; })[0];
      if (!r) return;
      document.getElementById('f-from').value = r.from ? shortTime(r.from) : '';
      document.getElementById('f-to').value = '';
      readForm();
      route();
    }).catch(SS.fail());
  }

  function boot() {
    SS.takeToken();
    fillForm();
    document.getElementById('filters').addEventListener('submit', function (ev) {
      ev.preventDefault();
      readForm();
      route();
    });
    quickRanges();
    document.getElementById('goto-source').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var ip = document.getElementById('goto-ip').value.trim();
      if (ip) location.hash = '#/source/' + encodeURIComponent(ip);
    });
    window.addEventListener('hashchange', route);
    if (!SS.token()) SS.say('no token: open the address printed by `sipscope serve` (it ends in #token=…)');
    SS.startLive();
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
