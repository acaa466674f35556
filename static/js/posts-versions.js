// The composer's per-account sections: each chosen account's section is shown, and its preview, counter
// and rules are fetched from the server (debounced) while typing. The server renders every card from the
// publisher's own rules; this only asks and places the answer. Schedule and Publish now wait for no
// broken rules. A blank field in an account's section means "the same as the base"; its own files replace
// the base's on that account (library images ticked there, then files uploaded there), and "No images or
// video" leaves them out there.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview-url]");
  if (!form) return;
  var none = form.querySelector("[data-rules-empty]");
  var buttons = form.querySelectorAll("[data-needs-valid]");
  var timer = null, sequence = 0;

  function csrf() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function chosen() {
    var ids = [];
    form.querySelectorAll("input[name=connections]:checked").forEach(function (box) { ids.push(box.value); });
    return ids;
  }

  function fileCount(input) {
    return input && input.files ? input.files.length : 0;
  }

  // Library images chosen (by id): the server shows each one's thumbnail on the cards.
  function checkedValues(root, selector) {
    var values = [];
    root.querySelectorAll(selector).forEach(function (box) { values.push(box.value); });
    return values;
  }

  function showSections(ids) {
    form.querySelectorAll("section[data-version-for]").forEach(function (section) {
      section.hidden = ids.indexOf(section.dataset.versionFor) < 0;
    });
    if (none) none.hidden = ids.length > 0;
  }

  function payload(ids) {
    var media = [];
    form.querySelectorAll("input[name=media_urls]").forEach(function (i) { media.push(i.value); });
    var uploads = fileCount(form.querySelector("#id_media")) +
      form.querySelectorAll("input[name=stored_media]:checked").length;
    var versions = {};
    ids.forEach(function (id) {
      var section = form.querySelector("section[data-version-for='" + id + "']");
      if (!section) return;
      var field = function (name) {
        var input = section.querySelector("[data-version-field=" + name + "]");
        return input ? input.value : "";
      };
      versions[id] = {
        content: field("content"), hashtags: field("hashtags"), link_url: field("link_url"),
        no_media: !!section.querySelector("[data-version-field=no_media]:checked"),
        library_media: checkedValues(section, "[data-version-field=library_media]:checked"),
        uploads: fileCount(section.querySelector("[data-version-field=media]")) +
          section.querySelectorAll("[data-version-field=stored_media]:checked").length
      };
    });
    return {
      connections: ids, content: form.elements.content.value, hashtags: form.elements.hashtags.value,
      link_url: form.elements.link_url.value, media_urls: media, uploads: uploads, versions: versions,
      library_media: checkedValues(form, "input[name=library_media]:checked")
    };
  }

  function place(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var blocked = false;
    doc.querySelectorAll("[data-preview-for]").forEach(function (card) {
      var slot = form.querySelector("[data-preview-slot='" + card.dataset.previewFor + "']");
      if (Number(card.dataset.violations) > 0) blocked = true;
      if (!slot) return;
      slot.textContent = "";
      Array.prototype.slice.call(card.childNodes).forEach(function (node) {
        slot.appendChild(document.importNode(node, true));
      });
    });
    buttons.forEach(function (b) { b.disabled = blocked; });
  }

  function check() {
    var ids = chosen();
    showSections(ids);
    if (!ids.length) { buttons.forEach(function (b) { b.disabled = false; }); return; }
    var mine = ++sequence;
    fetch(form.dataset.previewUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      body: JSON.stringify(payload(ids))
    }).then(function (r) { return r.ok ? r.text() : ""; }).then(function (html) {
      if (mine === sequence && html) place(html);
    }).catch(function () { /* the server checks again on save */ });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  check();
})();
