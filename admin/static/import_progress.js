// The import page's progress bar: polls /admin/imports/{id}/progress until the import ends, then
// reloads the page for its final links. The page works without it (a refresh shows the progress).
(function () {
  "use strict";
  var bar = document.getElementById("import-progress");
  if (!bar || bar.getAttribute("data-finished") === "1") {
    return;
  }
  var url = bar.getAttribute("data-url");
  function show(progress) {
    bar.value = progress.percent;
    var fields = document.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i++) {
      var name = fields[i].getAttribute("data-field");
      if (Object.prototype.hasOwnProperty.call(progress, name)) {
        fields[i].textContent = String(progress[name]);
      }
    }
  }
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (progress) {
        if (progress.error) { return; }
        show(progress);
        if (progress.finished) { window.location.reload(); } else { window.setTimeout(tick, 1000); }
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  window.setTimeout(tick, 500);
})();
