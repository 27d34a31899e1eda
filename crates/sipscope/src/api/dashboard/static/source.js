/* One attacker's page: its whole story from /api/v1/sources/{ip} (when, where, its funnel per
 * node, tools, agents, numbers, passwords and users tried, alerts, decisions), a ban button,
 * and its raw messages from /api/v1/events?source=…&raw=1, shown as text. */
(function () {
  'use strict';
  var SS = window.SS = window.SS || {};
  var h = SS.h;
  var STAGE_ORDER = ['server_scan', 'extension_scan', 'registration_hijacking', 'hijack_succeeded', 'toll_fraud'];

  function namedCounts(title, arr) {
    return SS.card(title, SS.table([
      { title: 'value', get: function (c) { return c ? c.name : null; } },
      { title: 'count', get: function (c) { return c ? c.count : null; } }
    ], Array.isArray(arr) ? arr : [], { limit: 15 }));
  }

  /* The funnel of one source: stages in order, a series per node. */
  function funnel(nodes) {
    var stages = STAGE_ORDER.slice();
    (nodes || []).forEach(function (n) {
      (n.stages || []).forEach(function (s) { if (stages.indexOf(s.stage) < 0) stages.push(String(s.stage)); });
    });
    var series = (nodes || []).map(function (n) {
      var by = {};
      (n.stages || []).forEach(function (s) { by[s.stage] = typeof s.count === 'number' ? s.count : 0; });
      return [n.node === null || n.node === undefined ? 'all nodes' : String(n.node), stages.map(function (s) { return by[s] || 0; })];
    });
    return { kind: 'bars', title: 'Messages per stage and node', labels: stages.map(function (s) { return s.replace(/_/g, ' '); }), series: series, stacked: false };
  }

  function rawMessages(ip, holder) {
    SS.get('/events', { source: ip, raw: 1, limit: 100 }).then(function (data) {
      var events = data && Array.isArray(data.events) ? data.events : [];
      SS.clear(holder);
      if (!events.length) { holder.appendChild(h('p', { class: 'no-data' }, 'no data')); return; }
      events.forEach(function (e) {
        var head = [SS.show(e.time), SS.show(e.node), SS.show(e.transport), SS.show(e.src) + ':' + SS.show(e.src_port) + ' → ' + SS.show(e.dst) + ':' + SS.show(e.dst_port), SS.show(e.method || e.status)].join('  ');
        holder.appendChild(h('details', { class: 'raw-message' }, h('summary', null, head), h('pre', { class: 'raw' }, e.raw === undefined ? '(no raw message)' : SS.show(e.raw))));
      });
      if (data.next_cursor) holder.appendChild(h('p', { class: 'note' }, 'the first 100 messages in the range are shown'));
    }).catch(SS.fail(holder));
  }

  SS.views.source = function (root, ip) {
    var reload = function () { SS.views.source(SS.clear(root), ip); };
    SS.views.source.reload = reload;
    SS.views.source.ip = ip;
    SS.get('/sources/' + encodeURIComponent(ip)).then(function (s) {
      SS.clear(root);
      var dl = h('dl', { class: 'kv' });
      [['address', s.address], ['country', s.country], ['AS', s.asn === null || s.asn === undefined ? null : 'AS' + s.asn + (s.as_org ? ' ' + s.as_org : '')],
        ['first seen', s.first_seen], ['last seen', s.last_seen], ['messages', s.events]].forEach(function (kv) {
        dl.appendChild(h('dt', null, kv[0]));
        dl.appendChild(h('dd', { 'data-field': kv[0] }, SS.show(kv[1])));
      });
      var decisions = Array.isArray(s.decisions) ? s.decisions : [];
      var banned = decisions.some(function (d) { return d.decision && d.decision.kind === 'ban'; });
      var ban = h('button', { type: 'button', class: 'danger', id: 'ban' }, banned ? 'ban again' : 'ban this source');
      ban.addEventListener('click', function () {
        ban.disabled = true;
        SS.decide(String(s.address || ip), 'ban', 86400, 'banned from the dashboard', reload);
      });
      var grid = h('div', { class: 'grid' });
      root.appendChild(SS.card('Source ' + SS.show(s.address || ip), dl, h('p', null, ban, ' ', h('span', { class: 'hint' }, 'a ban lasts 24 h; the Decisions page sets others'))));
      grid.appendChild(SS.card('Attack funnel', SS.chart(funnel(s.nodes))));
      var dec = SS.card('Decisions', SS.table(SS.decisionColumns(reload), decisions, { limit: 50, cls: 'decisions' }));
      dec.setAttribute('id', 'source-decisions');
      grid.appendChild(dec);
      grid.appendChild(namedCounts('Tools', s.tools));
      grid.appendChild(namedCounts('User agents', s.agents));
      grid.appendChild(namedCounts('Numbers dialled', s.numbers));
      grid.appendChild(namedCounts('Passwords tried', s.passwords));
      grid.appendChild(namedCounts('Users (extensions) tried', s.users));
      grid.appendChild(SS.card('Alerts', SS.table(SS.alertColumns, Array.isArray(s.alerts) ? s.alerts : [], { limit: 50 })));
      root.appendChild(grid);
      rawCard(root, ip);
    }).catch(function (err) {
      /* No story yet (the analysis has not seen it, or a 404 in the range): what is stored of
       * it is still shown. */
      SS.clear(root);
      var why = h('p', { class: 'no-data' });
      root.appendChild(SS.card('Source ' + ip, why));
      SS.fail(why)(err);
      rawCard(root, ip);
    });
  };

  function rawCard(root, ip) {
    var raw = h('div', { id: 'raw-messages' }, h('p', { class: 'hint' }, 'loading…'));
    root.appendChild(SS.card('Raw messages', raw));
    rawMessages(ip, raw);
  }
})();
