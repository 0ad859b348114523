// How the book's tables read (issue 26), on top of stn_book.css: a number is never split across
// lines. In a cell, every run of non-space characters that holds a digit ("0.01", "150,000",
// "1e-3", "0.7/1", "abl-batch256") is kept on one line (browsers break after "-" and "/" even
// inside such runs); a table that is then wider than the column scrolls sideways in its own box.
(function () {
  var NUMBER_TOKEN = /\S*\d\S*/g;

  function keepNumbersWhole(cell) {
    var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        // not TeX that MathJax has yet to find (".math"), nor what it made of it
        return n.parentElement.closest(".math, mjx-container, .stn-nobr, script, style")
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      },
    });
    var texts = [];
    for (var n = walker.nextNode(); n; n = walker.nextNode()) {
      if (/\d/.test(n.data)) texts.push(n);
    }
    texts.forEach(function (text) {
      var parts = document.createDocumentFragment();
      var last = 0;
      text.data.replace(NUMBER_TOKEN, function (token, at) {
        if (at > last) parts.appendChild(document.createTextNode(text.data.slice(last, at)));
        var span = document.createElement("span");
        span.className = "stn-nobr";
        span.textContent = token;
        parts.appendChild(span);
        last = at + token.length;
        return token;
      });
      if (last < text.data.length) parts.appendChild(document.createTextNode(text.data.slice(last)));
      text.parentNode.replaceChild(parts, text);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("main article th, main article td").forEach(keepNumbersWhole);
  });
})();
