// The campaign editor: save the form a moment after each change, then refresh the previews and
// the check findings beside it, so staff see what each segment will receive as they write.
(function () {
  "use strict";
  var form = document.getElementById("campaign-editor");
  if (!form) { return; }
  var status = document.getElementById("editor-status");
  var frames = document.querySelector("[data-preview-base]");
  var findings = document.getElementById("findings");
  var timer = null;

  function show(segment) {
    if (!frames) { return; }
    frames.setAttribute("data-preview-shown", segment);
    form.elements.shown.value = segment;
    var url = frames.getAttribute("data-preview-base") + segment + "?v=" + Date.now();
    frames.querySelectorAll("iframe").forEach(function (frame) { frame.src = url; });
    document.querySelectorAll("[data-preview-segment]").forEach(function (link) {
      link.classList.toggle("secondary", link.getAttribute("data-preview-segment") !== segment);
    });
  }

  function listFindings(items) {
    if (!findings) { return; }
    findings.textContent = "";
    if (!items.length) {
      items = [{ level: "passed", segment: "", message: "Every variant passed every check." }];
    }
    items.forEach(function (item) {
      var row = document.createElement("li");
      var badge = document.createElement("span");
      badge.className = "badge " + (item.level === "error" ? "bad" : item.level === "passed" ? "ok" : "warn");
      badge.textContent = item.level;
      row.appendChild(badge);
      row.appendChild(document.createTextNode(" " + (item.segment ? item.segment + ": " : "") + item.message));
      findings.appendChild(row);
    });
  }

  function save() {
    status.textContent = "Saving…";
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        status.textContent = answer.message;
        if (!answer.saved) { return; }
        listFindings(answer.findings);
        var shown = frames ? frames.getAttribute("data-preview-shown") : "";
        if (answer.variants.length && answer.variants.indexOf(shown) < 0) { shown = answer.variants[0]; }
        show(shown);
      })
      .catch(function () { status.textContent = "Not saved: the app did not answer. Try Save changes."; });
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(save, 900);
  });
  document.querySelectorAll("[data-preview-segment]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      show(link.getAttribute("data-preview-segment"));
    });
  });
})();
