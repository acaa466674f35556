// The SMS template form (admin → Message templates): under the body, the encoding and segments of the
// text as a typical member would get it, counted by the server (promotions/sms_estimate.py) as staff type.
(function () {
  "use strict";
  var body = document.getElementById("id_body");
  var channel = document.getElementById("id_channel");
  var token = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (!body || !channel || !token) return;
  var out = document.createElement("p");
  out.className = "help sms-count";
  out.setAttribute("aria-live", "polite");
  body.parentNode.appendChild(out);
  var timer = null;

  function refresh() {
    if (channel.value !== "SMS") {
      out.textContent = "";
      return;
    }
    var data = new FormData();
    data.append("text", body.value);
    fetch("/promotions/sms-count/", {method: "POST", body: data, credentials: "same-origin",
                                     headers: {"X-CSRFToken": token.value}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        if (answer.problem) {
          out.textContent = "This template would be refused: " + answer.problem;
        } else {
          out.textContent = "For a typical member: " + answer.units + " " + answer.encoding + " characters, " +
            answer.segments + " segment" + (answer.segments === 1 ? "" : "s") +
            (answer.encoding === "UCS-2" ? " (a character outside the GSM alphabet makes the whole text UCS-2: 70 in one segment, 67 each when split)."
                                        : " (160 in one segment, 153 each when split).");
        }
      })
      .catch(function () { /* the last count stays; the next change tries again */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }
  body.addEventListener("input", later);
  channel.addEventListener("change", refresh);
  refresh();
})();
