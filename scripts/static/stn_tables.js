// How the book's tables read (issue 26), on top of stn_book.css:
// - a number is never split across lines: in a cell, every run of non-space characters that
//   holds a digit ("0.01", "150,000", "1e-3", "0.7/1", "abl-batch256") is kept on one line
//   (browsers break after "-" and "/" even inside such runs), and so is a mean with its spread
//   ("1.12 ± 0.07", which a phone would otherwise stack as "1.12 ±" over "0.07"); a table that is
//   then wider than the column scrolls sideways in its own box;
// - a table with more than LONG body rows (a benchmark chapter's listing of every run) shows its
//   first SHOWN rows and, under them, a button that shows the rest and hides them again: a
//   77-row listing is many phone screens long, and a reader scrolling past it loses the text.
// Without JavaScript, and in print, every row shows.
(function () {
  var LONG = 40;
  var SHOWN = 12;
  var NUMBER_TOKEN = /\S*\d\S*(?:\s+±\s*\S*\d\S*)?/g;

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

  function label(button, rows) {
    var open = button.getAttribute("aria-expanded") === "true";
    button.textContent = open ? "Show the first " + SHOWN + " rows only" : "Show all " + rows + " rows";
  }

  function collapse(table) {
    var rows = [];
    for (var b = 0; b < table.tBodies.length; b++) {
      rows = rows.concat(Array.prototype.slice.call(table.tBodies[b].rows));
    }
    if (rows.length <= LONG || table.dataset.stnRows) return;
    table.dataset.stnRows = String(rows.length);
    rows.slice(SHOWN).forEach(function (row) { row.classList.add("stn-row-more"); });
    table.classList.add("stn-rows-collapsed");

    var button = document.createElement("button");
    button.type = "button";
    button.className = "stn-rows-toggle";
    button.setAttribute("aria-expanded", "false");
    label(button, rows.length);
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      table.classList.toggle("stn-rows-collapsed", !open);
      label(button, rows.length);
      if (!open) button.scrollIntoView({ block: "nearest" });  // back to where the shortened table ends
    });
    // under the table's scrolling box, so that the button does not scroll sideways with it
    var box = table.closest(".pst-scrollable-table-container, div.cell_output .output") || table;
    box.insertAdjacentElement("afterend", button);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("main article th, main article td").forEach(keepNumbersWhole);
    document.querySelectorAll("main article table").forEach(collapse);
  });
})();
