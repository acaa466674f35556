// Live per-platform counter, rules and preview for the composer and a draft's edit form. The
// counting itself (X's weighting included) is done by the server's adapters; this only asks,
// debounced, and shows. A form names its platforms by its checked accounts (the composer) or by
// data-platforms (the edit form of one post); buttons marked data-needs-valid wait for no violations.
(function () {
  "use strict";
  document.querySelectorAll("form[data-rules-url]").forEach(function (form) { counter(form); });

  function counter(form) {
  var out = form.querySelector("[data-rules-out]");
  var none = form.querySelector("[data-rules-empty]");
  var buttons = form.querySelectorAll("[data-needs-valid]");
  var timer = null, sequence = 0;

  function csrf() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function chosenPlatforms() {
    if (form.dataset.platforms) return form.dataset.platforms.split(" ");
    var seen = [];
    form.querySelectorAll("input[name=connections]:checked").forEach(function (box) {
      if (seen.indexOf(box.dataset.platform) < 0) seen.push(box.dataset.platform);
    });
    return seen;
  }

  function payload() {
    var media = [];
    form.querySelectorAll("input[name=media_urls], input[name=keep_media]:checked").forEach(function (i) {
      media.push(i.value);
    });
    // Images chosen from the media library are published from their library address.
    form.querySelectorAll("input[name=library_media]:checked").forEach(function (i) {
      if (i.dataset.mediaUrl) media.push(i.dataset.mediaUrl);
    });
    var files = form.querySelector("input[type=file][name=media]");
    var uploads = files && files.files ? files.files.length : 0;
    uploads += form.querySelectorAll("input[name=stored_media]:checked").length;
    return {
      platforms: chosenPlatforms(),
      content: form.elements.content.value,
      hashtags: form.elements.hashtags.value,
      link_url: form.elements.link_url.value,
      media_urls: media,
      uploads: uploads
    };
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function render(platforms) {
    out.textContent = "";
    var names = Object.keys(platforms);
    if (none) none.hidden = names.length > 0;
    var blocked = false;
    names.forEach(function (key) {
      var p = platforms[key];
      var over = p.length > p.limit;
      var section = el("section", {"class": "platform-rules", "data-platform": key});
      var counter = el("div", {"class": "counter" + (over ? " error" : (p.length > 0.9 * p.limit ? " near" : "")),
                               "data-platform": key, "aria-invalid": over ? "true" : "false"});
      counter.appendChild(el("span", {}, p.name));
      counter.appendChild(el("span", {"class": "count"}, p.length + " / " + p.limit));
      section.appendChild(counter);
      if (p.violations.length) {
        blocked = true;
        var list = el("ul", {"class": "violations"});
        p.violations.forEach(function (v) { list.appendChild(el("li", {}, v)); });
        section.appendChild(list);
      }
      section.appendChild(el("div", {"class": "preview", "aria-label": p.name + " preview"}, p.preview));
      out.appendChild(section);
    });
    buttons.forEach(function (b) { b.disabled = blocked; });
  }

  function check() {
    var body = payload();
    if (!body.platforms.length) { render({}); return; }
    var mine = ++sequence;
    fetch(form.dataset.rulesUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (mine === sequence) render(data.platforms || {});
    }).catch(function () { /* the server checks again on save */ });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  check();
  }
})();
