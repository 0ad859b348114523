// Where the page's third-party scripts do not load (offline, a blocked CDN), say so on the page
// instead of leaving raw TeX and an empty space where the text says "drag the sliders":
// - MathJax missing: one note under the page's title;
// - the widget scripts missing (RequireJS, the Jupyter widgets HTML manager, anywidget): a note
//   in place of every widget that has not drawn, WAIT_MS after the page loaded or at once when a
//   script fails; the note goes away if the widget draws after all (a slow network).
// Loaded early in <head> (scripts/stn_book_reading.py gives it a low priority) so that it hears
// the load errors of the scripts after it. <html data-stn-scripts="ok|missing"> tells the
// browser test what it decided.
(function () {
  var WAIT_MS = 6000;
  var VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';
  var OFFLINE = "To read the book without the internet, build it with <code>STN_BOOK_ASSETS=local</code> " +
    "after <code>python scripts/fetch_web_assets.py</code> (README, “The book offline”).";
  var failed = [];  // URLs of scripts that could not be loaded

  window.addEventListener("error", function (event) {
    var el = event.target;
    if (el && el.tagName === "SCRIPT" && el.src) failed.push(el.src);
  }, true);  // load errors do not bubble: catch them on the way down

  function origin(src) {
    var url = new URL(src, location.href);
    return url.host === location.host ? "this site's <code>" + url.pathname.replace(/[^/]*$/, "") + "</code>" : url.host;
  }
  function scriptFrom(pattern) {
    var hit = failed.filter(function (s) { return pattern.test(s); })[0];
    if (hit) return hit;
    var el = Array.prototype.find.call(document.scripts, function (s) { return s.src && pattern.test(s.src); });
    return el ? el.src : null;
  }
  function note(html) {
    var div = document.createElement("div");
    div.className = "stn-script-notice";
    div.setAttribute("role", "note");
    div.innerHTML = html;
    return div;
  }

  // -- maths ---------------------------------------------------------------------------------
  var MATHJAX = /mathjax/i;
  function checkMaths() {
    var maths = document.querySelectorAll("main .math");
    if (!maths.length || (window.MathJax && window.MathJax.version)) return true;
    var src = scriptFrom(MATHJAX);
    var title = document.querySelector("main article h1") || document.querySelector("main h1");
    if (!title || document.querySelector(".stn-script-notice.stn-maths")) return false;
    var div = note("<strong>The formulas on this page show as TeX source</strong>: they are typeset by MathJax, " +
      "a script from " + (src ? origin(src) : "a CDN") + " that did not load. " + OFFLINE);
    div.classList.add("stn-maths");
    title.insertAdjacentElement("afterend", div);
    return false;
  }

  // -- widgets -------------------------------------------------------------------------------
  var WIDGET_SCRIPTS = /require(\.min)?\.js|html-manager|embed-amd|anywidget/i;
  function drawn(view) {
    var area = view.previousElementSibling;
    return !!(area && area.classList.contains("widget-subarea") && area.children.length);
  }
  function checkWidgets(final) {
    var views = Array.prototype.slice.call(document.querySelectorAll(VIEW));
    var broken = failed.some(function (s) { return WIDGET_SCRIPTS.test(s); }) ||
      (views.length && document.readyState === "complete" && !window.requirejs);
    var missing = 0;
    views.forEach(function (view) {
      var old = view.parentElement.querySelector(":scope > .stn-script-notice");
      if (drawn(view)) { if (old) old.remove(); return; }
      missing++;
      if (old || !(broken || final)) return;
      var src = scriptFrom(WIDGET_SCRIPTS);
      var how = broken ? "that did not load" : "that has not loaded after " + WAIT_MS / 1000 + " s";
      view.insertAdjacentElement("beforebegin", note(
        "<strong>An interactive figure is missing here</strong>: it needs JavaScript from " +
        (src ? origin(src) : "a CDN") + " " + how + ". Run the chapter's notebook in Jupyter to use it. " + OFFLINE));
    });
    return missing === 0;
  }

  function check(final) {
    var maths = checkMaths();
    var widgets = checkWidgets(final);
    if ((maths && widgets) || final) document.documentElement.dataset.stnScripts = maths && widgets ? "ok" : "missing";
    return maths && widgets;
  }

  window.addEventListener("load", function () {
    var started = Date.now();
    (function poll() {
      var waited = Date.now() - started;
      if (check(waited >= WAIT_MS)) return;  // everything there (a late widget also removes its note)
      if (waited < 10 * WAIT_MS) setTimeout(poll, waited >= WAIT_MS ? 2000 : 250);
    })();
  });
})();
