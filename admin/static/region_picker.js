// The region cascade (a form field of kind "region"): one select per level, by name. Choosing a
// region fills the next level's select from /admin/regions/children and empties the ones below.
// The server renders every level it already knows, so a form shown again after an error keeps
// its choices; the names are what the form sends, and the server finds the region from them.
(function () {
  "use strict";

  function reset(select) {
    while (select.options.length > 1) {
      select.remove(1);
    }
    select.value = "";
  }

  function fill(select, regions) {
    regions.forEach(function (region) {
      var option = document.createElement("option");
      option.value = region.name;
      option.textContent = region.name;
      option.setAttribute("data-code", region.code);
      select.appendChild(option);
    });
  }

  function load(picker, selects, index) {
    for (var i = index + 1; i < selects.length; i++) {
      reset(selects[i]);
    }
    var chosen = selects[index].options[selects[index].selectedIndex];
    var code = chosen ? chosen.getAttribute("data-code") : null;
    if (!code || index + 1 >= selects.length) {
      return;
    }
    var next = selects[index + 1];
    var url = "/admin/regions/children?parent=" + encodeURIComponent(code) +
      "&scoped=" + encodeURIComponent(picker.getAttribute("data-scoped") || "1");
    next.disabled = true;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (chosen === selects[index].options[selects[index].selectedIndex] && body.data) {
          fill(next, body.data);
        }
      })
      .finally(function () { next.disabled = false; });
  }

  document.querySelectorAll(".region-picker").forEach(function (picker) {
    var selects = Array.prototype.slice.call(picker.querySelectorAll("select[data-level]"));
    selects.forEach(function (select, index) {
      select.addEventListener("change", function () { load(picker, selects, index); });
      // A choice made before this script ran (a slow page: the script is deferred) fired no
      // change here: its next level, still empty, is filled now.
      var next = selects[index + 1];
      if (select.value && next && next.options.length <= 1) {
        load(picker, selects, index);
      }
    });
  });
})();
