// An Undo button lasts only as long as the undo is possible: it goes when its time runs out.
(function () {
  "use strict";
  document.querySelectorAll("[data-undo-until]").forEach(function (offer) {
    var left = Date.parse(offer.getAttribute("data-undo-until")) - Date.now();
    window.setTimeout(function () { offer.hidden = true; }, Math.max(left, 0));
  });
})();
