// caseledger console: the few things a page does in the browser beyond htmx.
// No inline scripts anywhere (the Content-Security-Policy forbids them); this file is the
// console's whole own script, and every page works without it.
(function () {
  "use strict";
  // A button with data-confirm asks before its form is sent (close, erase, disable).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) ||
      event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // A form that failed sends focus to its first field in error, so keyboard and screen-reader
  // users land on what needs fixing.
  document.addEventListener("DOMContentLoaded", function () {
    var invalid = document.querySelector("[aria-invalid='true']");
    if (invalid) {
      invalid.focus();
    }
  });
})();
