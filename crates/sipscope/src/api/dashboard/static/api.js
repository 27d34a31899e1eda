/* The API client: the token (from the URL fragment #token=…, kept in sessionStorage and
 * removed from the address bar), the filters that apply to every call (from, to, node), and
 * fetch wrappers that send `Authorization: Bearer`. */
(function () {
  'use strict';
  var SS = window.SS = window.SS || {};
  var TOKEN_KEY = 'sipscope.token';
  var FILTER_KEY = 'sipscope.filters';

  SS.takeToken = function () {
    var m = /(?:^#|[#&])token=([^&]*)/.exec(location.hash);
    if (m) {
      try { sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1])); } catch (e) { /* private mode */ }
      history.replaceState(null, '', location.pathname + location.search + '#/overview');
    }
  };

  SS.token = function () {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  };

  SS.filters = function () {
    try {
      var f = JSON.parse(sessionStorage.getItem(FILTER_KEY) || '{}');
      return { from: String(f.from || ''), to: String(f.to || ''), nodes: Array.isArray(f.nodes) ? f.nodes.map(String) : [] };
    } catch (e) {
      return { from: '', to: '', nodes: [] };
    }
  };

  SS.setFilters = function (f) {
    try { sessionStorage.setItem(FILTER_KEY, JSON.stringify(f)); } catch (e) { /* ignore */ }
  };

  /* Query string: the filters, then `extra` ({key: value | [values]}). */
  SS.query = function (extra, noFilters) {
    var p = new URLSearchParams();
    if (!noFilters) {
      var f = SS.filters();
      if (f.from) p.append('from', f.from);
      if (f.to) p.append('to', f.to);
      f.nodes.forEach(function (n) { p.append('node', n); });
    }
    Object.keys(extra || {}).forEach(function (k) {
      var v = extra[k];
      if (v === undefined || v === null || v === '') return;
      (Array.isArray(v) ? v : [v]).forEach(function (x) { p.append(k, String(x)); });
    });
    var s = p.toString();
    return s ? '?' + s : '';
  };

  /* `withMeta`: resolve to {data, built, earlier} — when a report's build began
   * (`Sipscope-Report-Built`) and whether an earlier run of the server built it. */
  function request(method, path, body, withMeta) {
    var headers = { 'Accept': 'application/json' };
    var t = SS.token();
    if (t) headers['Authorization'] = 'Bearer ' + t;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
      .then(function (r) {
        if (r.status === 204) return null;
        return r.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          if (!r.ok) {
            var why = data && (data.error || data.message) ? (data.error || data.message) : text.slice(0, 200);
            var err = new Error(method + ' ' + path.split('?')[0] + ': ' + r.status + ' ' + SS.show(why));
            err.status = r.status;
            throw err;
          }
          if (!withMeta) return data;
          return {
            data: data,
            built: r.headers.get('Sipscope-Report-Built') || '',
            earlier: r.headers.get('Sipscope-Report-Earlier-Run') === 'true'
          };
        });
      });
  }

  /* GET `path` (under /api/v1) with the filters and `extra`. */
  SS.get = function (path, extra, noFilters) { return request('GET', '/api/v1' + path + SS.query(extra, noFilters)); };
  /* A report with when it was built: {data, built, earlier}. */
  SS.getReport = function (path, extra) { return request('GET', '/api/v1' + path + SS.query(extra), undefined, true); };
  SS.post = function (path, body) { return request('POST', '/api/v1' + path, body); };
  SS.del = function (path) { return request('DELETE', '/api/v1' + path); };

  /* A failure shown to the operator (a 401 says how to get a token). */
  SS.fail = function (where) {
    return function (err) {
      var text = err && err.message ? err.message : String(err);
      if (err && err.status === 401) text += ' — open the address printed by `sipscope serve` (it carries #token=…)';
      SS.say(text);
      if (where) SS.append(SS.clear(where), SS.h('p', { class: 'no-data' }, text));
    };
  };
})();
