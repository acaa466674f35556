// Posts list: a header checkbox selects every post shown on this page, and a live count says how many
// are selected. Without this script the box stays hidden and each row is ticked on its own; the server
// checks every chosen post again whatever is ticked here.
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  var all = form && form.querySelector("input[data-select-all]");
  if (!all) return;
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox][name=" + all.dataset.selectAll + "]"));
  var count = document.getElementById(all.getAttribute("aria-describedby"));

  function update() {
    var chosen = boxes.filter(function (box) { return box.checked; }).length;
    all.checked = chosen > 0 && chosen === boxes.length;
    all.indeterminate = chosen > 0 && chosen < boxes.length;
    count.textContent = chosen ? chosen + " selected" : "None selected";
  }

  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
    update();
  });
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  all.hidden = false;
  count.hidden = false;
  update();  // the browser may have kept ticks from before (back button)
})();
