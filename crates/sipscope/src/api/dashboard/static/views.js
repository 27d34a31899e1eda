/* The dashboard's pages over the API: the overview (report sections: summary, traffic, the
 * attack funnel per node, top sources, countries, ASNs, tools, agents, numbers, passwords,
 * campaigns), the lists (events, passwords, numbers, tools, campaigns, alerts) and decisions
 * with ban/unban. Each view fills `root` and returns nothing; failures are shown, not thrown. */
(function () {
  'use strict';
  var SS = window.SS = window.SS || {};
  var h = SS.h;
  var V = SS.views = {};
  var STAGES = ['server scan', 'extension scan', 'registration hijacking', 'hijack succeeded', 'toll fraud'];

  function section(report, name) {
    var s = report && report.sections ? report.sections[name] : null;
    return s && typeof s === 'object' ? s : null;
  }

  function firstTable(s) { return s && Array.isArray(s.tables) && s.tables.length ? s.tables[0] : null; }

  /* The funnel per node from the stages section: one bar group per stage, a series per node. */
  SS.funnelChart = function (stagesTable, title) {
    var cols = stagesTable ? stagesTable.columns || [] : [];
    var rows = stagesTable ? stagesTable.rows || [] : [];
    var idx = STAGES.map(function (s) { return cols.indexOf(s); });
    var series = rows.map(function (r) {
      return [SS.show(r[0]), idx.map(function (i) { return i >= 0 && typeof r[i] === 'number' ? r[i] : 0; })];
    });
    return { kind: 'bars', title: title, labels: STAGES, series: series, stacked: false };
  };

  /* Totals per value of column `col` of the sources table (sources and requests). */
  function topBy(table, col, label) {
    var ci = table ? (table.columns || []).indexOf(col) : -1;
    var ri = table ? (table.columns || []).indexOf('requests') : -1;
    var acc = {};
    ((table && table.rows) || []).forEach(function (r) {
      var k = ci >= 0 ? SS.show(r[ci]) : '-';
      acc[k] = acc[k] || { key: k, sources: 0, requests: 0 };
      acc[k].sources += 1;
      acc[k].requests += ri >= 0 && typeof r[ri] === 'number' ? r[ri] : 0;
    });
    var list = Object.keys(acc).map(function (k) { return acc[k]; });
    list.sort(function (a, b) { return b.sources - a.sources || b.requests - a.requests; });
    return SS.table([
      { title: label, get: function (r) { return r.key; } },
      { title: 'sources (of the top list)', get: function (r) { return r.sources; } },
      { title: 'requests', get: function (r) { return r.requests; } }
    ], list, { limit: 10 });
  }

  function sectionCard(report, name, opts) {
    var s = section(report, name);
    if (!s) return null;
    var card = SS.card(s.title || name);
    (s.charts || []).forEach(function (c) { card.appendChild(SS.chart(c)); });
    (s.tables || []).forEach(function (t) { card.appendChild(SS.reportTable(t, opts)); });
    (s.notes || []).forEach(function (n) { card.appendChild(h('p', { class: 'note' }, n)); });
    card.setAttribute('data-section', name);
    return card;
  }

  /* How often, and how many times, an overview an earlier run of the server kept is asked
   * for again until this run's own is built (a second or so after the server started). */
  var KEPT_RETRY_MS = 1000;
  var KEPT_RETRIES = 120;

  V.overview = function (root, _arg, tries) {
    if (!tries) SS.append(root, h('p', { class: 'hint' }, 'loading the report…'));
    SS.getReport('/report').then(function (got) {
      var report = got.data;
      // The operator moved on (each visit draws into a container of its own).
      if (tries && !document.body.contains(root)) return;
      SS.clear(root);
      if (got.earlier) {
        // The server just started and answered with the overview an earlier run kept in the
        // store: say how old it is, and ask again until the fresh one is there.
        var when = String(got.built).replace(/\.\d+Z$/, 'Z');
        SS.append(root, h('p', { class: 'hint', 'data-kept': 'earlier' },
          'Report built ' + when + ' by an earlier run of the server; this run is building a fresh one.'));
        if ((tries || 0) < KEPT_RETRIES) {
          setTimeout(function () {
            if (document.body.contains(root)) V.overview(root, _arg, (tries || 0) + 1);
          }, KEPT_RETRY_MS);
        }
      }
      var grid = h('div', { class: 'grid' });
      var stages = section(report, 'stages');
      var funnel = SS.card('Attack funnel per node', SS.chart(SS.funnelChart(firstTable(stages), 'Sources per stage and node')));
      funnel.setAttribute('data-section', 'funnel');
      if (stages) (stages.tables || []).forEach(function (t) { funnel.appendChild(SS.reportTable(t)); });
      var sources = firstTable(section(report, 'sources'));
      var top = SS.card('Top sources', sources ? SS.reportTable(sources, { link: 0, limit: 15 }) : h('p', { class: 'no-data' }, 'no data'));
      top.setAttribute('data-section', 'sources');
      grid.appendChild(sectionCard(report, 'summary') || h('div'));
      grid.appendChild(sectionCard(report, 'daily') || h('div'));
      grid.appendChild(funnel);
      grid.appendChild(top);
      grid.appendChild(SS.card('Top countries', topBy(sources, 'country', 'country')));
      grid.appendChild(SS.card('Top ASNs', topBy(sources, 'ASN', 'ASN')));
      ['tools', 'user-agents', 'numbers', 'passwords', 'campaigns', 'alerts', 'spread', 'overlap', 'tools-by-country', 'countries']
        .forEach(function (name) {
          var c = sectionCard(report, name, { limit: 10 });
          if (c) grid.appendChild(c);
        });
      root.appendChild(grid);
    }).catch(SS.fail(root));
  };

  /* A list endpoint ({"items": […]}) as a table. */
  function list(path, title, columns) {
    return function (root) {
      SS.get(path).then(function (data) {
        var items = data && Array.isArray(data.items) ? data.items : [];
        SS.append(SS.clear(root), SS.card(title, SS.table(columns || SS.columnsOf(items), items, { limit: 100 })));
      }).catch(SS.fail(root));
    };
  }

  function counts(arr) {
    return Array.isArray(arr) ? arr.map(function (c) { return SS.show(c && c.name) + ' (' + SS.show(c && c.count) + ')'; }).join(', ') : SS.show(arr);
  }

  V.passwords = list('/passwords', 'Passwords tried');
  V.numbers = list('/numbers', 'Numbers dialled (unified across prefixes)');
  V.tools = list('/tools', 'Tools');
  V.campaigns = list('/campaigns', 'Campaigns');

  SS.alertColumns = [
    { title: 'last', get: function (a) { return a.timestamp; } },
    { title: 'rule', get: function (a) { return a.alert ? a.alert.signature : null; } },
    { title: 'severity', get: function (a) { return a.alert && a.alert.metadata ? SS.show((a.alert.metadata.severity || [])[0]) : null; } },
    { title: 'source', get: function (a) { return SS.sourceLink(a.src_ip); } },
    { title: 'node', get: function (a) { return a.sipscope ? a.sipscope.node : null; } },
    { title: 'messages', get: function (a) { return a.sipscope ? a.sipscope.count : null; } },
    { title: 'method', get: function (a) { return a.sip ? a.sip.method : null; } },
    { title: 'user agent', get: function (a) { return a.sip ? a.sip.user_agent : null; } }
  ];
  V.alerts = list('/alerts', 'Alerts', SS.alertColumns);

  SS.eventColumns = [
    { title: 'time', get: function (e) { return e.time; } },
    { title: 'node', get: function (e) { return e.node; } },
    { title: 'source', get: function (e) { return SS.sourceLink(e.src); } },
    { title: 'transport', get: function (e) { return e.transport; } },
    { title: 'method / status', get: function (e) { return e.method || e.status; } },
    { title: 'from', get: function (e) { return e.from_user; } },
    { title: 'to', get: function (e) { return e.to_user; } },
    { title: 'user agent', get: function (e) { return e.user_agent; } },
    { title: 'tool', get: function (e) { return e.tool; } }
  ];

  V.events = function (root) {
    var cursor = null;
    var all = [];
    var holder = h('div');
    var more = h('button', { type: 'button', id: 'events-more' }, 'older events');
    var load = function () {
      SS.get('/events', { limit: 100, cursor: cursor }).then(function (data) {
        all = all.concat(data && Array.isArray(data.events) ? data.events : []);
        cursor = data ? data.next_cursor : null;
        SS.append(SS.clear(holder), SS.table(SS.eventColumns, all, { limit: all.length || 1 }));
        more.disabled = !cursor;
      }).catch(SS.fail(holder));
    };
    more.addEventListener('click', load);
    SS.append(root, SS.card('Events', holder, more));
    load();
  };

  /* Decisions: those in force (or all), unban buttons, and a form to add one. */
  SS.decisionColumns = function (after) {
    return [
      { title: 'id', get: function (d) { return d.decision ? d.decision.id : null; } },
      { title: 'kind', get: function (d) { return d.decision ? d.decision.kind : null; } },
      { title: 'scope', get: function (d) { return d.decision ? SS.scopeLink(d.decision.scope) : null; } },
      { title: 'from', get: function (d) { return d.decision ? d.decision.start : null; } },
      { title: 'until', get: function (d) { return d.decision ? d.decision.until : null; } },
      { title: 'by', get: function (d) { return d.decision ? d.decision.who || d.decision.rule_id : null; } },
      { title: 'reason', get: function (d) { return d.decision ? d.decision.reason : null; } },
      { title: '', get: function (d) { return SS.unbanButton(d, after); } }
    ];
  };

  /* A decision's scope, linked to the page of its address (a prefix or address:port too). */
  SS.scopeLink = function (scope) {
    var text = SS.show(scope);
    var addr = text.split('/')[0];
    if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(addr)) addr = addr.replace(/:\d+$/, '');
    var m = /^\[([^\]]+)\]:\d+$/.exec(addr);
    if (m) addr = m[1];
    return SS.h('a', { href: '#/source/' + encodeURIComponent(addr), class: 'src' }, text);
  };

  SS.unbanButton = function (d, after) {
    var id = d && d.decision ? d.decision.id : null;
    if (id === null || id === undefined) return '';
    /* Only a decision still in force can be lifted. */
    var until = Date.parse(d.decision.until);
    if (!isNaN(until) && until <= Date.now()) return 'ended';
    var b = h('button', { type: 'button', class: 'danger unban', 'data-id': id }, 'unban');
    b.addEventListener('click', function () {
      b.disabled = true;
      SS.del('/decisions/' + encodeURIComponent(String(id)) + '?reason=' + encodeURIComponent('unbanned from the dashboard')).then(function () {
        SS.say('decision ' + id + ' deleted', true);
        if (after) after();
      }).catch(function (e) { b.disabled = false; SS.fail()(e); });
    });
    return b;
  };

  /* POST a decision; `done(decision)` after. */
  SS.decide = function (scope, action, seconds, reason, done) {
    SS.post('/decisions', { scope: scope, action: action, duration_seconds: seconds, reason: reason })
      .then(function (d) {
        SS.say((action === 'ban' ? 'banned ' : action + ': ') + scope, true);
        if (done) done(d);
      }).catch(SS.fail());
  };

  SS.decisionForm = function (scope, done) {
    var scopeIn = h('input', { name: 'scope', value: scope || '', placeholder: '203.0.113.7 or /24', size: 20, required: 'required' });
    var action = h('select', { name: 'action' }, h('option', { value: 'ban' }, 'ban'), h('option', { value: 'rate_limit' }, 'rate limit'), h('option', { value: 'watch' }, 'watch'));
    var secs = h('input', { name: 'duration', type: 'number', min: 1, value: 86400, size: 8 });
    var reason = h('input', { name: 'reason', value: 'banned from the dashboard', size: 28 });
    var form = h('form', { class: 'decide' }, scopeIn, ' ', action, ' for ', secs, ' s, because ', reason, ' ',
      h('button', { type: 'submit', class: 'act' }, 'decide'));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      SS.decide(scopeIn.value.trim(), action.value, Number(secs.value) || 86400, reason.value, done);
    });
    return form;
  };

  V.decisions = function (root) {
    var all = /all=1/.test(location.hash);
    var holder = h('div');
    var refresh = function () {
      SS.get('/decisions', all ? { all: 1 } : {}).then(function (data) {
        var items = data && Array.isArray(data.items) ? data.items : [];
        SS.append(SS.clear(holder), SS.table(SS.decisionColumns(refresh), items, { limit: 200, cls: 'decisions' }));
      }).catch(SS.fail(holder));
    };
    V.decisions.refresh = refresh;
    SS.append(root, SS.card(all ? 'All decisions' : 'Decisions in force',
      h('p', null, h('a', { href: all ? '#/decisions' : '#/decisions?all=1' }, all ? 'only those in force' : 'show all, with ended and deleted ones')),
      SS.decisionForm('', refresh), holder));
    refresh();
  };

  SS.counts = counts;
})();
