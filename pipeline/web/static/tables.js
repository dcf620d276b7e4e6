// On a phone every staff table reads as cards (see clinic.css): each cell is labelled with its
// column's heading, copied here from the table's head so templates need not repeat it, and its
// content is gathered into one element so the label and the value sit side by side.
// Tables drawn again later (a campaign's live figures) are labelled through
// window.labelTables(element).
(function () {
  "use strict";
  function labelTables(root) {
    root.querySelectorAll("table").forEach(labelTable);
  }
  function labelTable(table) {
    var headings = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (!cell.hasAttribute("data-label") && headings[index]) {
          cell.setAttribute("data-label", headings[index]);
        }
        if (cell.getAttribute("data-label")) {
          var value = document.createElement("span");
          value.className = "cell-value";
          while (cell.firstChild) { value.appendChild(cell.firstChild); }
          cell.appendChild(value);
        }
      });
    });
  }
  window.labelTables = labelTables;
  labelTables(document);
})();
