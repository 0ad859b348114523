// Display maths wider than the text column (a phone, a narrow window) is scaled down to fit,
// to no less than 60 % of its size, instead of scrolling sideways or being cut off: MathJax 3
// cannot break lines by itself. Runs after MathJax has typeset the page, and on resize.
(function () {
  var MIN_SCALE = 0.6;

  function fit() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (m) {
      m.style.fontSize = "";
      var room = m.parentElement ? m.parentElement.clientWidth : 0;
      var width = m.scrollWidth;
      if (room > 0 && width > room) {
        m.style.fontSize = Math.max(MIN_SCALE, (room / width) * 0.98) * 100 + "%";
      }
    });
    document.documentElement.dataset.stnMathFitted = "1";
  }

  function whenTypeset() {
    if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
      window.MathJax.startup.promise.then(fit);
    } else {
      setTimeout(whenTypeset, 50);
    }
  }

  document.addEventListener("DOMContentLoaded", whenTypeset);
  window.addEventListener("resize", fit);
})();
