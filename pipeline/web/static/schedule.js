// The schedule form explains the chosen time before it is submitted: when the campaign would
// really go out (quiet hours, closures) and how many clients the weekly limit skips.
(function () {
  "use strict";
  var form = document.getElementById("schedule");
  if (!form) { return; }
  var line = document.getElementById("schedule-explanation");
  var url = form.getAttribute("data-when-url");

  function explain() {
    var query = new URLSearchParams({ day: form.elements.day.value, clock: form.elements.clock.value });
    fetch(url + "?" + query.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) { return; }
        line.textContent = answer.sentence;
        line.classList.toggle("problem", !answer.possible);
      })
      .catch(function () { return null; });
  }
  form.elements.day.addEventListener("change", explain);
  form.elements.clock.addEventListener("change", explain);
})();
