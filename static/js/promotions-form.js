// The promotion form's SMS estimate follows the form as staff type: the server counts each text's
// segments (GSM-7 or UCS-2) for every recipient and prices them (promotions/sms_estimate.py).
(function () {
  "use strict";
  var form = document.querySelector("form[data-sms-estimate]");
  var body = form && form.querySelector("[data-sms-estimate-body]");
  if (!body) return;
  var timer = null;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function show(estimate) {
    body.textContent = "";
    var p = document.createElement("p");
    if (!estimate) {
      p.className = "help";
      p.textContent = "Choose the club and “Text message (SMS)” to see how many segments the texts take and what they cost.";
      body.appendChild(p);
      return;
    }
    if (estimate.problem) {
      p.className = "notice error";
      p.textContent = estimate.problem;
      body.appendChild(p);
      return;
    }
    p.textContent = estimate.recipients + " recipient" + (estimate.recipients === 1 ? "" : "s") + " by text, " +
      estimate.segments + " segment" + (estimate.segments === 1 ? "" : "s") + " in all" +
      (estimate.cost !== null ? ": about " + estimate.cost + " " + estimate.currency :
        " (set a price per segment in the promotion defaults to see the cost)") + ".";
    body.appendChild(p);
    var table = document.createElement("table");
    table.className = "sms-steps";
    var head = table.createTHead().insertRow();
    ["Send", "Encoding", "Segments per text", "Recipients", "Segments"].forEach(function (name) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      head.appendChild(th);
    });
    var rows = table.createTBody();
    estimate.steps.forEach(function (step) {
      var row = rows.insertRow();
      [step.label, step.encoding, step.segments_per_text, step.recipients, step.segments].forEach(function (v) {
        cell(row, String(v));
      });
    });
    body.appendChild(table);
  }

  function refresh() {
    var data = new FormData(form);
    if (form.dataset.promotion) data.append("promotion", form.dataset.promotion);
    fetch(form.dataset.smsEstimate, {method: "POST", body: data, credentials: "same-origin",
                                     headers: {"X-Requested-With": "fetch"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) { if (answer) show(answer.estimate); })
      .catch(function () { /* the estimate shown stays; the next change tries again */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
