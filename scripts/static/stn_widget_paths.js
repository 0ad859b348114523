// Tell RequireJS where anywidget's front end is, so the Jupyter widgets HTML manager loads
// that exact file (pinned in scripts/stn_book_assets.py) instead of guessing a CDN URL from
// the widget's version range. `data-anywidget` on this script tag gives the module's URL
// without ".js"; a relative one is taken relative to this file (the local build's
// _static/vendor/ copy, fetched by scripts/fetch_web_assets.py).
(function () {
  var script = document.currentScript;
  if (!script || !window.requirejs) return;
  var target = script.getAttribute("data-anywidget") || "vendor/anywidget/index";
  window.requirejs.config({ paths: { anywidget: new URL(target, script.src).href } });
})();
