// Local build only (STN_BOOK_ASSETS=local): point RequireJS at the copy of anywidget's front
// end that scripts/fetch_web_assets.py placed next to this file, under _static/vendor/.
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (!here || !window.requirejs) return;
  var vendor = new URL("vendor/", here).href;
  window.requirejs.config({ paths: { anywidget: vendor + "anywidget/index" } });
})();
