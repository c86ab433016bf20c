// bringup report: a node's details on hover and click, and tables sorted by their headers.
// Everything from the ledger is written as text (textContent), never parsed as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var panel = document.getElementById("panel");
  var body = document.getElementById("panel-body");
  var pinned = null;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function line(label, value) {
    var p = el("p");
    p.appendChild(el("b", label + ": "));
    p.appendChild(document.createTextNode(String(value)));
    return p;
  }

  function findings(rows) {
    var table = el("table");
    var head = el("tr");
    ["component", "check", "observed", "expected"].forEach(function (h) { head.appendChild(el("th", h)); });
    table.appendChild(head);
    rows.forEach(function (f) {
      var tr = el("tr");
      tr.className = "finding";
      for (var i = 0; i < 4; i++) tr.appendChild(el("td", f[i]));
      if (f[4]) tr.title = "evidence: " + f[4];
      table.appendChild(tr);
    });
    return table;
  }

  function show(index) {
    var node = data.n[index];
    if (!node) return;
    var sku = data.skus[node[2]];
    var more = data.d[String(index)] || {};
    body.textContent = "";
    body.appendChild(el("h4", node[0]));
    var state = el("p");
    state.appendChild(el("span", "", "chip " + node[1]));
    state.appendChild(el("b", data.states[node[1]]));
    if (more.l && more.l !== data.states[node[1]]) state.appendChild(document.createTextNode(" (ledger: " + more.l + ")"));
    if (more.t) state.appendChild(document.createTextNode(" since " + more.t));
    body.appendChild(state);
    body.appendChild(line("SKU", sku[0] + (sku[1] ? ", " + sku[1] + " GPUs" : "")));
    if (more.r) body.appendChild(line("reason", more.r));
    if (more.s) body.appendChild(line("scheduler", more.s));
    if (more.i) {
      var i = more.i;
      body.appendChild(el("h4", "Incident " + i.id + " (" + i.status + ")"));
      body.appendChild(line("opened", i.opened));
      if (i.drained) body.appendChild(line("drained", i.drained));
      if (i.scheduler) body.appendChild(line("scheduler did", i.scheduler));
      if (i.action) body.appendChild(line("recommended", i.action));
      if (i.domain) body.appendChild(line("NVLink domain at fault", i.domain));
      if (i.breaker) body.appendChild(line("circuit breaker", i.breaker));
      if (i.f) body.appendChild(findings(i.f));
      if (i.href) {
        var p = el("p");
        var a = el("a", "evidence");
        a.href = i.href;
        p.appendChild(a);
        body.appendChild(p);
      }
    }
    if (more.f) {
      body.appendChild(el("h4", "Latest verdict's findings"));
      body.appendChild(findings(more.f));
    }
    panel.hidden = false;
  }

  function target(event) {
    var t = event.target;
    return t && t.getAttribute ? t.getAttribute("data-n") : null;
  }

  document.addEventListener("mouseover", function (event) {
    var n = target(event);
    if (n !== null && pinned === null) show(Number(n));
  });
  document.addEventListener("mouseout", function (event) {
    if (target(event) !== null && pinned === null) panel.hidden = true;
  });
  document.addEventListener("click", function (event) {
    var n = target(event);
    if (n === null) return;
    if (pinned) pinned.classList.remove("sel");
    pinned = event.target;
    pinned.classList.add("sel");
    panel.classList.add("pinned");
    show(Number(n));
  });
  function unpin() {
    if (pinned) pinned.classList.remove("sel");
    pinned = null;
    panel.classList.remove("pinned");
    panel.hidden = true;
  }
  document.getElementById("panel-close").addEventListener("click", unpin);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") unpin(); });

  // Sortable tables: a click on a header sorts by that column, a second click reverses.
  function key(cell) {
    var v = cell.getAttribute("data-v");
    var text = v !== null ? v : cell.textContent.trim();
    var number = Number(text.replace(/,/g, ""));
    return text !== "" && !isNaN(number) ? number : text.toLowerCase();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sort"), function (table) {
    var heads = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(heads, function (th, column) {
      th.addEventListener("click", function () {
        var up = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        var tbody = table.tBodies[0];
        var rows = Array.prototype.slice.call(tbody.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
        });
        rows.forEach(function (row) { tbody.appendChild(row); });
      });
    });
  });
})();
