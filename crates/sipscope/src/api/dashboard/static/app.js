/* The dashboard's entry point: takes the token from the fragment, wires the filter form
 * (time range and nodes, applied to every view and call), routes `#/view[/arg]` to a view,
 * and starts the live feed. */
(function () {
  'use strict';
  var SS = window.SS;

  function route() {
    var m = /^#\/([a-z]+)(?:\/([^?]*))?/.exec(location.hash) || [null, 'overview', ''];
    var name = m[1];
    var arg = m[2] ? decodeURIComponent(m[2]) : '';
    var root = SS.clear(document.getElementById('view'));
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

  function boot() {
    SS.takeToken();
    fillForm();
    document.getElementById('filters').addEventListener('submit', function (ev) {
      ev.preventDefault();
      readForm();
      route();
    });
    var quick = document.querySelectorAll('.quick button');
    for (var i = 0; i < quick.length; i++) {
      quick[i].addEventListener('click', function (ev) {
        var secs = Number(ev.target.getAttribute('data-range'));
        document.getElementById('f-from').value = secs ? new Date(Date.now() - secs * 1000).toISOString() : '';
        document.getElementById('f-to').value = '';
        readForm();
        route();
      });
    }
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
