/* DOM helpers. Every text goes in as a text node (textContent); attributes only through
 * setAttribute on names this file's callers choose; nothing here parses HTML. Attacker text
 * (user agents, users, numbers, raw messages) is therefore inert wherever it is shown. */
(function () {
  'use strict';
  var SS = window.SS = window.SS || {};

  /* h('td', {class: 'n'}, 'text', child…): an element; strings and numbers become text nodes. */
  SS.h = function (tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'on') {
          Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]); });
        } else if (k === 'href') {
          el.setAttribute('href', SS.safeHref(String(v)));
        } else {
          el.setAttribute(k, String(v));
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) SS.append(el, arguments[i]);
    return el;
  };

  SS.append = function (el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { SS.append(el, c); });
    } else if (typeof child === 'object' && child.nodeType) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child)));
    }
  };

  /* Links inside the page only: '#/…' routes; anything else becomes '#'. */
  SS.safeHref = function (href) {
    return /^#\//.test(href) ? href : '#';
  };

  SS.clear = function (el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  };

  /* A value as text for a cell. */
  SS.show = function (v) {
    if (v === null || v === undefined) return '-';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  };

  SS.sourceLink = function (ip) {
    if (ip === null || ip === undefined || ip === '') return '-';
    return SS.h('a', { href: '#/source/' + encodeURIComponent(String(ip)), class: 'src' }, String(ip));
  };

  /* A table: columns [{title, get(row) → value|Node, num?}], rows. Shows `limit` rows with a
   * "show all" toggle; "no data" when empty. */
  SS.table = function (columns, rows, opts) {
    opts = opts || {};
    if (!rows || rows.length === 0) return SS.h('p', { class: 'no-data' }, 'no data');
    var limit = opts.limit || 25;
    var table = SS.h('table', { class: opts.cls || null });
    var head = SS.h('tr');
    columns.forEach(function (c) { head.appendChild(SS.h('th', null, c.title)); });
    table.appendChild(head);
    var body = SS.h('tbody');
    table.appendChild(body);
    var fill = function (n) {
      SS.clear(body);
      rows.slice(0, n).forEach(function (r) { body.appendChild(SS.row(columns, r)); });
    };
    fill(limit);
    if (rows.length <= limit) return table;
    var more = SS.h('button', { type: 'button', class: 'more' }, 'show all ' + rows.length);
    more.addEventListener('click', function () { fill(rows.length); more.remove(); });
    return SS.h('div', null, table, more);
  };

  SS.row = function (columns, r) {
    var tr = SS.h('tr');
    columns.forEach(function (c) {
      var v = c.get(r);
      var isNode = v && typeof v === 'object' && v.nodeType;
      tr.appendChild(SS.h('td', { class: c.num || typeof v === 'number' ? 'n' : null }, isNode ? v : SS.show(v)));
    });
    return tr;
  };

  /* Columns for plain objects: every key of the first rows. */
  SS.columnsOf = function (items) {
    var keys = [];
    items.slice(0, 20).forEach(function (it) {
      if (it && typeof it === 'object') Object.keys(it).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    });
    return keys.map(function (k) {
      return { title: k, get: function (r) { return k === 'src' || k === 'source' || k === 'address' || k === 'src_ip' ? SS.sourceLink(r[k]) : r[k]; } };
    });
  };

  /* A report table ({name, title, columns, rows}); `link` is the index of a column of source
   * addresses to link. */
  SS.reportTable = function (t, opts) {
    opts = opts || {};
    var cols = (t.columns || []).map(function (title, i) {
      return { title: title, get: function (r) { return i === opts.link ? SS.sourceLink(r[i]) : r[i]; } };
    });
    return SS.h('div', null, t.title ? SS.h('h3', null, t.title) : null, SS.table(cols, t.rows || [], opts));
  };

  /* A chart of the report model in a new figure, or "no data". */
  SS.chart = function (c) {
    if (!window.SipscopeCharts || !window.SipscopeCharts.hasData(c)) {
      return SS.h('p', { class: 'no-data' }, (c && c.title ? c.title + ': ' : '') + 'no data');
    }
    var canvas = SS.h('canvas', { role: 'img', 'aria-label': c.title || 'chart' });
    var box = SS.h('div', { class: 'chart-box' }, canvas);
    var fig = SS.h('figure', null, SS.h('figcaption', null, c.title || ''), box);
    /* Drawn once in the document, so the chart knows its size. */
    setTimeout(function () { window.SipscopeCharts.draw(canvas, c); }, 0);
    return fig;
  };

  SS.card = function (title) {
    var sec = SS.h('section', { class: 'card' }, title ? SS.h('h2', null, title) : null);
    for (var i = 1; i < arguments.length; i++) SS.append(sec, arguments[i]);
    return sec;
  };

  SS.say = function (text, ok) {
    var m = document.getElementById('message');
    if (!m) return;
    m.textContent = text || '';
    m.className = ok ? 'ok' : '';
  };
})();
