// Optional conveniences; the page is complete without them. Collapsed sections are
// opened for printing so the paper copy holds every finding, then closed again.
(function () {
  "use strict";
  var controls = document.getElementById("controls");
  var opened = [];
  function setAll(open) {
    document.querySelectorAll("details.settled").forEach(function (d) { d.open = open; });
  }
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.settled:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
  if (!controls) { return; }
  controls.hidden = false;
  document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });
  document.getElementById("only-attention").addEventListener("change", function (event) {
    var only = event.target.checked;
    document.querySelectorAll("section.check").forEach(function (s) {
      s.hidden = only && s.getAttribute("data-unsettled") === "0";
    });
  });
})();
