// Live figures on a campaign's page: from scheduled, through sending, to the opens and clicks
// that arrive for two days after it was sent, the page asks the app for its state and totals
// and its figures (totals, bookings, the per-segment table, top links) drawn afresh, and puts
// them in place. The server says how soon to ask again, and when to stop.
(function () {
  "use strict";
  var panel = document.querySelector("[data-progress-url]");
  if (!panel) { return; }
  var url = panel.getAttribute("data-progress-url");
  var state = panel.getAttribute("data-progress-state");
  var live = panel.querySelector("[data-live]");

  function showState(answer) {
    document.querySelectorAll("[data-state]").forEach(function (badge) {
      badge.textContent = answer.state;
      badge.className = "badge state-" + answer.state;
    });
    var reason = document.querySelector("[data-state-reason]");
    if (reason) {
      reason.textContent = answer.reason;
      reason.hidden = !answer.reason;
    }
    if (answer.state !== state) {
      // The buttons were for the earlier state: say so rather than offer what no longer applies.
      var actions = document.querySelector("[data-actions]");
      var stale = document.querySelector("[data-actions-stale]");
      var schedule = document.getElementById("schedule");
      if (actions) { actions.hidden = true; }
      if (schedule) { schedule.hidden = true; }
      if (stale) { stale.hidden = false; }
    }
  }

  function showFigures(html) {
    var figures = panel.querySelector("[data-live-figures]");
    // The server drew the figures with its templates, escaped as on any page.
    var drawn = new DOMParser().parseFromString(html, "text/html").body;
    figures.replaceChildren.apply(figures, Array.prototype.slice.call(drawn.childNodes));
    if (window.labelTables) { window.labelTables(figures); }
  }

  function update() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) { window.setTimeout(update, 10000); return; }
        showFigures(answer.figures_html);
        showState(answer);
        if (answer.next_poll_seconds) {
          window.setTimeout(update, answer.next_poll_seconds * 1000);
        } else if (live) {
          live.textContent = "These figures are final.";
        }
      })
      .catch(function () { window.setTimeout(update, 10000); });
  }
  window.setTimeout(update, Number(panel.getAttribute("data-poll-seconds")) * 1000);
})();
