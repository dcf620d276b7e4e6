// Live progress on a sending campaign's page: poll its figures every few seconds, update them
// in place, and reload the page once the campaign leaves the state it was in.
(function () {
  "use strict";
  var panel = document.querySelector("[data-progress-url]");
  if (!panel) { return; }
  var url = panel.getAttribute("data-progress-url");
  var state = panel.getAttribute("data-state");
  var numbers = new Intl.NumberFormat("en-GB");

  function update() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (!progress) { return; }
        Object.keys(progress.totals).forEach(function (name) {
          var cell = panel.querySelector('[data-figure="' + name + '"]');
          if (cell) { cell.textContent = numbers.format(progress.totals[name]); }
        });
        if (progress.state !== state) { window.location.reload(); return; }
        window.setTimeout(update, 3000);
      })
      .catch(function () { window.setTimeout(update, 10000); });
  }
  window.setTimeout(update, 3000);
})();
