// meshprober status pages: refresh without losing the scroll position or the filter, filter rows
// and graph edges, copy buttons. Served by the agent (no CDN); no inline script is needed.
(function () {
  "use strict";
  var key = "meshprober:" + location.pathname;
  var filter = document.getElementById("filter");

  function save() {
    try {
      sessionStorage.setItem(key, JSON.stringify({
        x: window.scrollX, y: window.scrollY, q: filter ? filter.value : "",
        f: !!filter && document.activeElement === filter
      }));
    } catch (e) { /* storage off: the page still works, it just forgets the position */ }
  }

  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var match = function (el) { return !q || (el.getAttribute("data-search") || "").indexOf(q) >= 0; };
    document.querySelectorAll("[data-search]").forEach(function (el) {
      el.classList.toggle("hidden", !match(el));
    });
    document.querySelectorAll("tbody.ns-group").forEach(function (g) {
      var visible = g.querySelectorAll("tr.path-row:not(.hidden)").length;
      g.classList.toggle("hidden", visible === 0);
    });
  }

  var saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { saved = null; }
  if (filter) {
    // ?q=TEXT (e.g. a Grafana data link) fills the filter on the first visit; after that the
    // filter the person typed survives the refreshes.
    var asked = new URLSearchParams(location.search).get("q");
    if (saved) { filter.value = saved.q || ""; } else if (asked) { filter.value = asked; }
    if (saved && saved.f) { filter.focus({ preventScroll: true }); }
    filter.addEventListener("input", function () { applyFilter(); save(); });
    applyFilter();
  }
  if (saved) { window.scrollTo(saved.x || 0, saved.y || 0); }
  window.addEventListener("scroll", save, { passive: true });

  var refresh = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  function busy() {
    // Do not pull the page from under someone who is typing or selecting text to copy.
    var sel = window.getSelection ? String(window.getSelection()) : "";
    return sel.length > 0 || (document.activeElement && document.activeElement.tagName === "INPUT" &&
      document.activeElement.type !== "search");
  }
  function tick() {
    if (busy()) { setTimeout(tick, 2000); return; }
    save();
    location.reload();
  }
  if (refresh > 0) { setTimeout(tick, refresh * 1000); }

  function copied(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "copied" : "select the text and copy it";
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var text = source ? source.textContent : "";
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button, true); },
          function () { copied(button, fallbackCopy(text)); });
      } else {
        copied(button, fallbackCopy(text));
      }
    });
  });
})();
