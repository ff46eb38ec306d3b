// Warn before leaving a data-entry form with unsaved changes (no build step: plain script).
(function () {
  "use strict";
  var changed = false;
  document.addEventListener("input", function (event) {
    if (event.target.form && event.target.form.dataset.warnUnsaved) { changed = true; }
  });
  document.addEventListener("change", function (event) {
    if (event.target.form && event.target.form.dataset.warnUnsaved) { changed = true; }
  });
  document.addEventListener("submit", function () { changed = false; });
  window.addEventListener("beforeunload", function (event) {
    if (changed) { event.preventDefault(); event.returnValue = ""; }
  });
})();

// Show-if: the server decides which fields the entered values hide (the live preview swaps in
// #visibility); this only toggles the fields it names. No second evaluator in JavaScript.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSettle", function () {
    var carrier = document.getElementById("visibility");
    if (!carrier) { return; }
    var hidden = (carrier.dataset.hidden || "").split(" ").filter(Boolean);
    document.querySelectorAll("[data-field]").forEach(function (row) {
      row.hidden = hidden.indexOf(row.dataset.field) !== -1;
    });
  });
})();
