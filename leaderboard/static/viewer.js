/* Per-sample viewer for one task page. Data files are small .js files that assign to
   window.LB_SAMPLES[systemId] (fetch() of JSON is blocked on file://). Every piece of text from
   the data is shown with textContent, never parsed as HTML. */
(function () {
  "use strict";
  var PAGE = 25;
  var cfg = JSON.parse(document.getElementById("viewer-data").textContent);
  var byId = {};
  cfg.systems.forEach(function (s) { byId[s.id] = s; });
  var cache = {};
  var state = { page: 0 };
  var $ = function (id) { return document.getElementById(id); };
  var selA = $("sys-a"), selB = $("sys-b"), show = $("show"), thr = $("threshold"), search = $("vsearch");
  var status = $("viewer-status"), out = $("viewer");

  function addScript(src, onload, onerror) {
    var s = document.createElement("script");
    s.src = src;
    s.onload = onload;
    s.onerror = onerror;
    document.head.appendChild(s);
  }

  /* prompts and references shared by the systems of this task (each system's file leaves out
     the ones identical to these) */
  var docsPromise = null;
  function loadDocs() {
    if (docsPromise) return docsPromise;
    docsPromise = new Promise(function (resolve) {
      var store = window.LB_DOCS || {};
      if (!cfg.docs_file) { resolve({}); return; }
      if (store[cfg.task]) { resolve(store[cfg.task].docs); return; }
      addScript(cfg.docs_file, function () {
        var d = (window.LB_DOCS || {})[cfg.task];
        resolve(d && d.task === cfg.task ? d.docs : {});
      }, function () { resolve({}); });
    });
    return docsPromise;
  }

  function load(id) {
    if (!id) return Promise.resolve(null);
    if (cache[id]) return cache[id];
    cache[id] = Promise.all([loadDocs(), loadRaw(id)]).then(function (both) {
      var docs = both[0], d = both[1];
      d.samples.forEach(function (r) {
        var shared = docs[String(r.d)] || {};
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

  function loadRaw(id) {
    return new Promise(function (resolve, reject) {
      var store = window.LB_SAMPLES || {};
      if (store[id]) { resolve(store[id]); return; }
      addScript(byId[id].file, function () {
        var d = (window.LB_SAMPLES || {})[id];
        if (d && d.task === cfg.task) resolve(d); else reject(new Error("data file did not define this system"));
      }, function () { reject(new Error("could not load " + byId[id].file)); });
    });
  }

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
