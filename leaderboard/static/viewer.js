/* Per-sample viewer for one task page. Data files are small .js files that assign to
   window.LB_SAMPLES[systemId] / window.LB_DOCS[task] (fetch() of JSON is blocked on file://). Each
   holds its records as columns, gzip-compressed and base64-encoded in one string ("z"): the viewer
   inflates it with the browser's DecompressionStream and rebuilds the records as
   leaderboard/samples.py's decode_view does. Every piece of text from the data is shown with
   textContent, never parsed as HTML. */
(function () {
  "use strict";
  var PAGE = 25;
  var FORMAT = 1;  /* samples.VIEW_FORMAT */
  var NO_INFLATE = "This browser cannot open the per-sample data: it needs DecompressionStream " +
    "(Chrome/Edge 80+, Firefox 113+, Safari 16.4+).";
  var cfg = JSON.parse(document.getElementById("viewer-data").textContent);
  var byId = {};
  cfg.systems.forEach(function (s) { byId[s.id] = s; });
  var cache = {};
  var state = { page: 0 };
  var $ = function (id) { return document.getElementById(id); };
  var selA = $("sys-a"), selB = $("sys-b"), show = $("show"), thr = $("threshold"), search = $("vsearch");
  var status = $("viewer-status"), out = $("viewer");
  var has = function (o, k) { return Object.prototype.hasOwnProperty.call(o, k); };

  function addScript(src, onload, onerror) {
    var s = document.createElement("script");
    s.src = src;
    s.onload = onload;
    s.onerror = onerror;
    document.head.appendChild(s);
  }

  /* base64 -> gzip -> JSON (a Promise of the object) */
  function inflate(obj, file) {
    if (!obj || obj.format !== FORMAT || typeof obj.z !== "string") {
      return Promise.reject(new Error(file + " is not a data file of this viewer's format (rebuild the site)"));
    }
    if (typeof DecompressionStream !== "function" || typeof Blob !== "function" || !Blob.prototype.stream ||
        typeof Response !== "function") {
      return Promise.reject(new Error(NO_INFLATE));
    }
    var bin;
    try { bin = atob(obj.z); } catch (e) { return Promise.reject(new Error(file + " is damaged (not base64)")); }
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse).catch(function (e) {
      throw new Error(file + " could not be read: " + (e && e.message || e));
    });
  }

  /* columns -> records (samples.decode_view) */
  function decode(c) {
    var n = c.n, ids = [], i, at = 0;
    if (c.di) { for (i = 0; i < c.di.length; i++) { at += c.di[i]; ids.push(at); } } else ids = c.d || [];
    if (ids.length !== n) throw new Error("data file: " + ids.length + " ids for " + n + " records");
    var P = c.p || {}, T = c.t || {}, X = c.x || {}, K = c.k || {}, ll = c.ll || [], j = 0, recs = new Array(n);
    for (i = 0; i < n; i++) {
      var r = { d: ids[i] }, key = String(i);
      if (has(P, key)) r.p = P[key];
      if (has(T, key)) r.t = T[key];
      if (c.ci && c.ci[i] !== null && c.ci[i] !== undefined) {
        r.ch = c.cl[c.ci[i]].map(function (label) { return [label, ll[j++]]; });
        if (has(K, key)) r.k = K[key];
      }
      if (c.o && c.o[i] !== null && c.o[i] !== undefined) r.o = c.o[i];
      if (has(X, key)) r.x = X[key];
      r.s = c.s[i];
      if (c.f && c.f[i] !== null && c.f[i] !== undefined) r.f = c.f[i];
      recs[i] = r;
    }
    return { metric: c.metric, score_metric: c.score_metric, samples: recs };
  }

  /* prompts and references shared by the systems of this task (each system's file leaves out
     the ones identical to these) */
  var docsPromise = null;
  function loadDocs() {
    if (docsPromise) return docsPromise;
    docsPromise = new Promise(function (resolve, reject) {
      if (!cfg.docs_file) { resolve(null); return; }
      var got = function () { return (window.LB_DOCS || {})[cfg.task]; };
      if (got()) { resolve(got()); return; }
      addScript(cfg.docs_file, function () { resolve(got()); },
                function () { reject(new Error("could not load " + cfg.docs_file)); });
    }).then(function (d) {
      if (!d) return {};
      if (d.task !== cfg.task) throw new Error(cfg.docs_file + " holds another task's documents");
      return inflate(d, cfg.docs_file).then(function (inner) { return inner.docs || {}; });
    });
    docsPromise.catch(function () { docsPromise = null; });
    return docsPromise;
  }

  function load(id) {
    if (!id) return Promise.resolve(null);
    if (cache[id]) return cache[id];
    cache[id] = Promise.all([loadDocs(), loadRaw(id)]).then(function (both) {
      var docs = both[0], d = both[1];
      d.samples.forEach(function (r) {
        var shared = has(docs, String(r.d)) ? docs[String(r.d)] : {};
        if (r.p === undefined) r.p = shared.p !== undefined ? shared.p : "";
        if (r.t === undefined) r.t = shared.t !== undefined ? shared.t : "";
        if (r.ch && r.ch.length) {  /* multiple choice: the chosen choice is the output */
          var k = r.k;
          if (typeof k !== "number" || !r.ch[k]) {
            k = 0;
            for (var i = 1; i < r.ch.length; i++) if (r.ch[i][1] > r.ch[k][1]) k = i;
          }
          if (r.o === undefined) r.o = String(r.ch[k][0]);
          if (r.x === undefined) r.x = "choice " + k + ": " + String(r.ch[k][0]).trim() +
            " (loglikelihood " + (+r.ch[k][1]).toFixed(3) + ")";
        }
        if (r.o === undefined) r.o = "";
        if (r.x === undefined) r.x = r.o;  /* the parsed value is stored only where it differs */
      });
      return d;
    });
    cache[id].catch(function () { delete cache[id]; });
    return cache[id];
  }

  /* a system's records as its data file holds them (decoded afresh on each call) */
  function loadRaw(id) {
    if (!byId[id]) return Promise.reject(new Error("no per-sample data for system " + id));
    var file = byId[id].file;
    return new Promise(function (resolve, reject) {
      var got = function () { return (window.LB_SAMPLES || {})[id]; };
      if (got()) { resolve(got()); return; }
      addScript(file, function () { resolve(got()); }, function () { reject(new Error("could not load " + file)); });
    }).then(function (d) {
      if (!d || d.task !== cfg.task || d.system !== id) throw new Error(file + " did not define this system");
      return inflate(d, file).then(function (inner) {
        var out = decode(inner);
        out.system = d.system;
        out.task = d.task;
        return out;
      });
    });
  }

  /* what the data files hold, as this viewer decodes them (tests/browser compares it with the build's records) */
  window.LBViewer = { records: loadRaw, docs: loadDocs };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function isError(rec) {
    if (!rec) return false;
    if (rec.f) return true;
    if (rec.s === null || rec.s === undefined) return false;
    var t = parseFloat(thr.value);
    if (isNaN(t)) return false;
    return cfg.higher_is_better ? rec.s < t : rec.s > t;
  }

  function scoreText(rec, data) {
    if (!rec) return "not scored on this document";
    var what = data && data.score_metric ? data.score_metric : "score";
    var s = rec.s === null || rec.s === undefined ? what + " n/a" : what + " " + (+rec.s).toFixed(3);
    return s + (rec.f ? " · parse failure" : "");
  }

  function block(label, text) {
    var d = el("div");
    d.appendChild(el("div", "label", label));
    d.appendChild(el("pre", null, text));
    return d;
  }

  function side(title, rec, data) {
    var d = el("div", "side");
    d.appendChild(el("div", "label", title));
    if (!rec) { d.appendChild(el("p", "muted", "no output for this document")); return d; }
    d.appendChild(block("output", rec.o));
    d.appendChild(block("parsed value", rec.x));
    var sc = el("div", isError(rec) ? "bad" : "good", scoreText(rec, data));
    d.appendChild(sc);
    if (rec.ch) {
      d.appendChild(block("choices (loglikelihood)", rec.ch.map(function (c) { return c[1] + "  " + c[0]; }).join("\n")));
    }
    return d;
  }

  function render(a, b) {
    var bmap = null;
    if (b) { bmap = {}; b.samples.forEach(function (r) { bmap[String(r.d)] = r; }); }
    var mode = show.value, q = (search.value || "").toLowerCase();
    var rows = a.samples.filter(function (r) {
      var rb = bmap ? bmap[String(r.d)] : null;
      if (mode === "errors" && !isError(r)) return false;
      if (mode === "parse" && !r.f) return false;
      if (mode === "differ") { if (!bmap) return false; if (!rb || rb.s === r.s && rb.x === r.x) return false; }
      if (q) {
        var hay = (r.p + "\n" + r.t + "\n" + r.o + "\n" + r.x + (rb ? "\n" + rb.o + "\n" + rb.x : "")).toLowerCase();
        if (hay.indexOf(q) < 0) return false;
      }
      return true;
    });
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    out.textContent = "";
    rows.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (r) {
      var rb = bmap ? bmap[String(r.d)] : null;
      var det = el("details", "sample");
      det.setAttribute("data-doc", String(r.d));
      var sum = el("summary", null, "doc " + r.d + " — A: " + scoreText(r, a) + (bmap ? " — B: " + scoreText(rb, b) : ""));
      det.appendChild(sum);
      var body = el("div", "body");
      body.appendChild(block("prompt", r.p));
      body.appendChild(block("reference", r.t));
      var cols = el("div", bmap ? "cols" : "");
      cols.appendChild(side("A: " + byId[selA.value].name, r, a));
      if (bmap) cols.appendChild(side("B: " + byId[selB.value].name, rb, b));
      body.appendChild(cols);
      det.appendChild(body);
      out.appendChild(det);
    });
    status.textContent = rows.length + " of " + a.samples.length + " documents match (" + cfg.metric + ")";
    $("pageinfo").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }

  function refresh() {
    status.textContent = "Loading per-sample data…";
    Promise.all([load(selA.value), load(selB.value)]).then(function (d) {
      render(d[0], d[1]);
    }).catch(function (e) { status.textContent = String(e && e.message || e); });
  }

  function fromHash() {
    var m = /(?:^#|&)a=([A-Za-z0-9._-]+)/.exec(location.hash || "");
    if (m && byId[m[1]]) selA.value = m[1];
    var mb = /(?:^#|&)b=([A-Za-z0-9._-]+)/.exec(location.hash || "");
    if (mb && byId[mb[1]]) selB.value = mb[1];
  }

  [selA, selB, show].forEach(function (c) { c.addEventListener("change", function () { state.page = 0; refresh(); }); });
  [thr, search].forEach(function (c) { c.addEventListener("input", function () { state.page = 0; refresh(); }); });
  $("prev").addEventListener("click", function () { state.page = Math.max(0, state.page - 1); refresh(); });
  $("next").addEventListener("click", function () { state.page += 1; refresh(); });
  $("viewer-controls").addEventListener("submit", function (ev) { ev.preventDefault(); });
  window.addEventListener("hashchange", function () { fromHash(); state.page = 0; refresh(); });
  fromHash();
  refresh();
})();
