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
