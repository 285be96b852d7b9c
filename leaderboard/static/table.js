/* Sortable, filterable tables. Vanilla JS; no data is ever inserted as HTML. */
(function () {
  "use strict";

  function cellValue(row, idx) {
    var td = row.cells[idx];
    if (!td) return "";
    var s = td.getAttribute("data-sort");
    return s !== null ? s : td.textContent.trim();
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, idx) {
      th.tabIndex = 0;
      th.setAttribute("role", "columnheader");
      function sort() {
        var type = th.getAttribute("data-type") || "text";
        var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" :
                  th.getAttribute("aria-sort") === "ascending" ? "descending" :
                  (type === "num" && idx > 0 ? "descending" : "ascending");
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var sign = dir === "ascending" ? 1 : -1;
        rows.sort(function (a, b) {
          var va = cellValue(a, idx), vb = cellValue(b, idx);
          if (va === "" && vb === "") return 0;
          if (va === "") return 1;      /* missing values always last */
          if (vb === "") return -1;
          if (type === "num") {
            var na = parseFloat(va), nb = parseFloat(vb);
            if (isNaN(na) && isNaN(nb)) return 0;
            if (isNaN(na)) return 1;
            if (isNaN(nb)) return -1;
            return sign * (na - nb);
          }
          return sign * va.localeCompare(vb);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", function (ev) {
        if (ev.target && ev.target.tagName === "A") return;  /* let links in headers work */
        sort();
      });
      th.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sort(); }
      });
    });
  }

  function makeFilterable(form) {
    var tableIds = (form.getAttribute("data-table") || "").split(" ");
    var tables = tableIds.map(function (id) { return document.getElementById(id); }).filter(Boolean);
    document.querySelectorAll("table.board").forEach(function (t) {
      if (tables.indexOf(t) < 0 && t.id && t.id.indexOf("board") >= 0) tables.push(t);
    });
    var controls = form.querySelectorAll("[data-filter]");
    var counter = form.querySelector("[data-count]");
    /* the base-model filter compares the text of each table's "Base model" column (no per-row copy) */
    function baseColumn(table) {
      var th = table.tHead ? table.tHead.querySelector("th[data-col=base]") : null;
      return th ? th.cellIndex : -1;
    }
    function apply() {
      var f = {};
      controls.forEach(function (c) { f[c.getAttribute("data-filter")] = c.value; });
      var text = (f.text || "").toLowerCase();
      var shown = 0, total = 0;
      tables.forEach(function (table) {
        var baseIdx = baseColumn(table);
        Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
          total++;
          var ok = true;
          if (f.kind && row.getAttribute("data-kind") !== f.kind) ok = false;
          if (ok && f.base && (baseIdx < 0 || row.cells[baseIdx].textContent !== f.base)) ok = false;
          if (ok && f.task && (row.getAttribute("data-tasks") || "").split(" ").indexOf(f.task) < 0) ok = false;
          if (ok && text && row.textContent.toLowerCase().indexOf(text) < 0) ok = false;
          row.hidden = !ok;
          if (ok) shown++;
        });
        table.querySelectorAll("th.task-col").forEach(function (th) {
          th.classList.toggle("focus", !!f.task && th.getAttribute("data-task") === f.task);
        });
      });
      if (counter) counter.textContent = shown + " of " + total + " shown";
    }
    controls.forEach(function (c) {
      c.addEventListener("input", apply);
      c.addEventListener("change", apply);
    });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    apply();
  }

  document.querySelectorAll("table.lb-sortable").forEach(makeSortable);
  document.querySelectorAll("form.filters").forEach(makeFilterable);
})();
