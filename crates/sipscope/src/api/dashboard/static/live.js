/* The live feed: one EventSource on /api/v1/live (the token as ?token=, as EventSource cannot
 * send headers); `sip` events, `alert`s and `decision`s are kept (bounded) and pushed into
 * the Live page as they come, without a reload. The node filter applies to what is shown. */
(function () {
  'use strict';
  var SS = window.SS = window.SS || {};
  var h = SS.h;
  var KEEP = 200;
  var state = { events: [], alerts: [], decisions: [], counts: { sip: 0, alert: 0, decision: 0 }, source: null };
  SS.live = state;

  function status(text, on) {
    var el = document.getElementById('live-status');
    if (!el) return;
    el.textContent = text;
    el.className = 'live ' + (on ? 'on' : 'off');
  }

  function wanted(node) {
    var nodes = SS.filters().nodes;
    return !nodes.length || nodes.indexOf(String(node)) >= 0;
  }

  function push(list, item) {
    list.unshift(item);
    if (list.length > KEEP) list.length = KEEP;
  }

  function parse(ev) {
    try { return JSON.parse(ev.data); } catch (e) { return null; }
  }

  function summary() {
    var c = state.counts;
    status('live: ' + c.sip + ' messages, ' + c.alert + ' alerts, ' + c.decision + ' decisions', true);
  }

  SS.startLive = function () {
    if (state.source || typeof EventSource === 'undefined') return;
    var url = '/api/v1/live' + SS.query({ token: SS.token() }, true);
    var es = new EventSource(url);
    state.source = es;
    es.addEventListener('open', summary);
    es.addEventListener('error', function () { status('live: reconnecting', false); });
    es.addEventListener('sip', function (ev) {
      var e = parse(ev);
      if (!e) return;
      state.counts.sip++;
      push(state.events, e);
      summary();
      if (wanted(e.node) && SS.live.onEvent) SS.live.onEvent(e);
    });
    es.addEventListener('alert', function (ev) {
      var a = parse(ev);
      if (!a) return;
      state.counts.alert++;
      push(state.alerts, a);
      summary();
      if (SS.live.onAlert) SS.live.onAlert(a);
    });
    es.addEventListener('decision', function (ev) {
      var d = parse(ev);
      if (!d) return;
      state.counts.decision++;
      push(state.decisions, d);
      summary();
      if (SS.live.onDecision) SS.live.onDecision(d);
    });
  };

  /* The Live page: the newest messages, alerts and decisions, new rows on top. */
  SS.views.live = function (root) {
    var evBody = h('tbody', { id: 'live-events' });
    var alBody = h('tbody', { id: 'live-alerts' });
    var deBody = h('tbody', { id: 'live-decisions' });
    var head = function (cols) { var tr = h('tr'); cols.forEach(function (c) { tr.appendChild(h('th', null, c.title)); }); return tr; };
    var add = function (body, cols, item, fresh) {
      var tr = SS.row(cols, item);
      if (fresh) tr.className = 'new';
      body.insertBefore(tr, body.firstChild);
      while (body.childNodes.length > KEEP) body.removeChild(body.lastChild);
    };
    var decCols = SS.decisionColumns();
    state.events.slice().reverse().forEach(function (e) { if (wanted(e.node)) add(evBody, SS.eventColumns, e, false); });
    state.alerts.slice().reverse().forEach(function (a) { add(alBody, SS.alertColumns, a, false); });
    state.decisions.slice().reverse().forEach(function (d) { add(deBody, decCols, d, false); });
    SS.live.onEvent = function (e) { add(evBody, SS.eventColumns, e, true); };
    SS.live.onAlert = function (a) { add(alBody, SS.alertColumns, a, true); };
    SS.live.onDecision = function (d) { add(deBody, decCols, d, true); };
    root.appendChild(SS.card('Messages as they arrive', h('table', null, h('thead', null, head(SS.eventColumns)), evBody)));
    root.appendChild(SS.card('Alerts as they are raised', h('table', null, h('thead', null, head(SS.alertColumns)), alBody)));
    root.appendChild(SS.card('Decisions as they are taken', h('table', null, h('thead', null, head(decCols)), deBody)));
    if (!state.events.length) {
      /* What came before this page was opened. */
      SS.get('/events', { limit: 50 }).then(function (data) {
        var events = data && Array.isArray(data.events) ? data.events.slice() : [];
        events.sort(function (a, b) { return String(a.time) < String(b.time) ? -1 : String(a.time) > String(b.time) ? 1 : 0; });
        events.forEach(function (e) { add(evBody, SS.eventColumns, e, false); });
      }).catch(SS.fail());
    }
  };
})();
