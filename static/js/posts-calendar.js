// The calendar: drag a scheduled post to another day (month) or hour (week), or move it with the
// keyboard (arrow keys pick the day or hour, Enter moves, Escape stays), with Undo. The server's
// schedule service decides: a refused move says why and the post stays where it was. A click on a
// free part of a slot opens the composer at that time. Without this script the "Move to…" forms work.
(function () {
  "use strict";
  var table = document.getElementById("calendar");
  if (!table) return;
  var moveUrl = table.dataset.moveUrl;
  var week = table.dataset.view === "week";
  var status = document.getElementById("move-status");
  var statusText = status.querySelector("[data-message]");
  var undoButton = status.querySelector("[data-undo]");
  var dragged = null, pending = null, undo = null;

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(message, canUndo) {
    status.hidden = false;
    statusText.textContent = message;
    undoButton.hidden = !canUndo;
  }

  function shiftDate(iso, days) {
    var parts = iso.split("-").map(Number);
    var d = new Date(Date.UTC(parts[0], parts[1] - 1, parts[2] + days));
    return d.toISOString().slice(0, 10);
  }

  function cellFor(date, time) {
    if (week) return table.querySelector('td.slot[data-date="' + date + '"][data-time="' + time.slice(0, 2) + ':00"]');
    return table.querySelector('td.slot[data-date="' + date + '"]');
  }

  // The target in words, as the page writes it (the server formats every date and time).
  function describe(item, cell, date, time) {
    var add = cell && cell.querySelector(".slot-add");
    if (!add) return date + " " + time;
    var words = add.getAttribute("aria-label").replace(/^New post on /, "");
    return week ? words : words.replace(/ at .*$/, " at " + item.querySelector(".cal-time").textContent);
  }

  function place(item, date, time, shown) {
    var details = item.nextElementSibling && item.nextElementSibling.classList.contains("move-to") ? item.nextElementSibling : null;
    item.dataset.date = date;
    item.dataset.time = time;
    if (shown) item.querySelector(".cal-time").textContent = shown;
    if (details) {
      details.querySelector("input[name=date]").value = date;
      details.querySelector("input[name=time]").value = time;
    }
    var cell = cellFor(date, time);
    if (!cell) {  // moved outside the days shown
      item.hidden = true;
      if (details) details.hidden = true;
      return;
    }
    item.hidden = false;
    var anchor = week ? cell.querySelector(".slot-add") : null;
    cell.insertBefore(item, anchor);
    if (details) { details.hidden = false; cell.insertBefore(details, anchor); }
  }

  function send(item, date, time) {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrf());
    body.append("post", item.dataset.post);
    body.append("date", date);
    body.append("time", time);
    body.append("club", table.dataset.club || "");
    return fetch(moveUrl, {method: "POST", body: body, credentials: "same-origin",
                           headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().catch(function () { return {ok: false, message: "The move could not be saved; try again."}; });
      })
      .catch(function () { return {ok: false, message: "The calendar could not reach the server; the post was not moved."}; });
  }

  function move(item, date, time) {
    if (date === item.dataset.date && time === item.dataset.time) return;
    item.classList.add("moving");
    send(item, date, time).then(function (answer) {
      item.classList.remove("moving");
      if (!answer.ok) {  // refused: the post stays where it was, and we say why
        say(answer.message || "That move was refused.", false);
        item.focus();
        return;
      }
      var before = answer.previous;
      place(item, answer.date, answer.time, answer.clock);
      undo = before ? {item: item, date: before.date, time: before.time} : null;
      say(answer.message, !!undo);
      if (!item.hidden) item.focus();
    });
  }

  undoButton.addEventListener("click", function () {
    if (!undo) return;
    var u = undo;
    undo = null;
    send(u.item, u.date, u.time).then(function (answer) {
      if (!answer.ok) { say(answer.message || "The move could not be undone.", false); return; }
      place(u.item, answer.date, answer.time, answer.clock);
      say("Move undone. " + answer.message, false);
      if (!u.item.hidden) u.item.focus();
    });
  });

  // ---- drag and drop
  table.addEventListener("dragstart", function (event) {
    var item = event.target.closest && event.target.closest("a.cal-post[data-post]");
    if (!item) return;
    dragged = item;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.post);
  });
  table.addEventListener("dragend", function () {
    dragged = null;
    table.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  table.addEventListener("dragover", function (event) {
    var cell = event.target.closest && event.target.closest("td.slot");
    if (!dragged || !cell) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    table.querySelectorAll(".drop-target").forEach(function (c) { if (c !== cell) c.classList.remove("drop-target"); });
    cell.classList.add("drop-target");
  });
  table.addEventListener("drop", function (event) {
    var cell = event.target.closest && event.target.closest("td.slot");
    if (!dragged || !cell) return;
    event.preventDefault();
    cell.classList.remove("drop-target");
    var item = dragged;
    dragged = null;
    move(item, cell.dataset.date, week ? cell.dataset.time : item.dataset.time);
  });

  // ---- keyboard
  function clearPending() {
    if (pending && pending.cell) pending.cell.classList.remove("pending-target");
    pending = null;
  }

  table.addEventListener("keydown", function (event) {
    var item = event.target.closest && event.target.closest("a.cal-post[data-post]");
    if (!item) return;
    var keys = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: week ? [0, -1] : [-7, 0], ArrowDown: week ? [0, 1] : [7, 0]};
    if (keys[event.key]) {
      event.preventDefault();
      var from = pending && pending.item === item ? pending : {date: item.dataset.date, time: item.dataset.time};
      var step = keys[event.key];
      var date = shiftDate(from.date, step[0]);
      var hour = Number(from.time.slice(0, 2)) + step[1];
      if (hour < 0) { hour = 23; date = shiftDate(date, -1); }
      if (hour > 23) { hour = 0; date = shiftDate(date, 1); }
      var time = (hour < 10 ? "0" : "") + hour + from.time.slice(2);
      clearPending();
      pending = {item: item, date: date, time: time, cell: cellFor(date, time)};
      if (pending.cell) pending.cell.classList.add("pending-target");
      say("Move to " + describe(item, pending.cell, date, time) + "? Press Enter to move it, Escape to leave it.", false);
    } else if (event.key === "Enter" && pending && pending.item === item) {
      event.preventDefault();
      var target = pending;
      clearPending();
      move(item, target.date, target.time);
    } else if (event.key === "Escape" && pending) {
      clearPending();
      say("Not moved.", false);
    }
  });
  table.addEventListener("focusout", function (event) {
    if (pending && event.target === pending.item) clearPending();
  });

  // ---- a click on a free part of a slot writes a post for that time
  table.addEventListener("click", function (event) {
    var cell = event.target.closest && event.target.closest("td.slot");
    if (!cell || (event.target !== cell && !event.target.classList.contains("day-head"))) return;
    var add = cell.querySelector(".slot-add");
    if (add) window.location.assign(add.href);
  });
})();
