/* Pomocnik – the NLU inbox (/agent/nlu). Plain JavaScript, no build step.
 *
 * The page lists the messages (each card carries its item as JSON in data-item); this script
 * shows one at a time and labels it through the console API (/agent/api/nlu/<id>/label|skip|
 * reopen, with the page's CSRF token). Keyboard first: the intent filter keeps the focus;
 * Enter saves the highlighted intent, 1–9 save the numbered one, 0 = poza zakresem, Esc =
 * pomiń, Ctrl+Z = cofnij. Texts are always inserted as text (never as HTML).
 */
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var filter = document.getElementById("intent-filter");
  if (!filter) { return; }  // nothing to label on this page

  var cards = Array.prototype.slice.call(document.querySelectorAll(".nlu-card"));
  var options = Array.prototype.slice.call(document.querySelectorAll("#intent-options [role=option]"));
  var text = document.getElementById("nlu-text");
  var OPEN = { waiting: true, labelled: true, skipped: true };
  var state = { index: -1, item: null, entities: [], visible: [], highlighted: null, undo: [] };

  function $(id) { return document.getElementById(id); }

  function fold(value) {
    return value.toLowerCase().replace(/ł/g, "l").normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  function percent(confidence) {
    return Math.round(confidence * 100) + "%";
  }

  function announce(message) { $("nlu-announcer").textContent = message; }

  function showError(message) {
    $("nlu-error").textContent = message || "";
    $("nlu-error").hidden = !message;
  }

  async function api(path, body) {
    var response;
    try {
      response = await fetch("/agent/api/nlu/" + path, {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "Content-Type": "application/json",
                   "X-CSRF-Token": csrf },
        body: JSON.stringify(body || {})
      });
    } catch (networkError) {
      throw new Error("Brak połączenia z serwerem. Sprawdź sieć i spróbuj ponownie.");
    }
    if (response.status === 401) {
      window.location.assign("/agent/login");
      throw new Error("Sesja wygasła.");
    }
    var data = {};
    try { data = await response.json(); } catch (ignored) { data = {}; }
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || "Coś poszło nie tak. Spróbuj ponownie.");
    }
    return data;
  }

  // ------------------------------------------------------------------ one message

  function itemOf(card) { return JSON.parse(card.dataset.item); }

  function select(index) {
    if (index < 0 || index >= cards.length) { return; }
    state.index = index;
    state.item = itemOf(cards[index]);
    var item = state.item;
    cards.forEach(function (card, i) { card.setAttribute("aria-current", i === index ? "true" : "false"); });
    text.value = item.text;
    var predicted = item.predicted.name
      ? item.predicted.label + " (" + item.predicted.name + ")" +
        (item.predicted.confidence === null ? "" : ", pewność " + percent(item.predicted.confidence))
      : "—";
    if (item.intent.name === "nlu_fallback") { predicted += " – nie dość pewne: asystent nie zrozumiał"; }
    $("nlu-predicted").textContent = predicted;
    $("nlu-reasons").textContent = item.reasons.map(function (r) { return r.label; }).join(", ");
    $("nlu-conversation").textContent = "rozmowa nr " + item.conversation_id;
    $("nlu-conversation").href = "/agent/review/" + item.conversation_id;
    $("nlu-state").textContent = item.status_label +
      (item.label ? ": " + item.label.intent_label : "") +
      (item.export_note ? " – " + item.export_note : "");
    state.entities = item.label ? item.label.entities.map(function (e) {
      return { start: e.start, end: e.end, entity: e.entity };
    }) : [];
    var editable = OPEN[item.status] === true;
    ["nlu-save", "nlu-out-of-scope", "nlu-skip", "mark-entity"].forEach(function (id) { $(id).disabled = !editable; });
    filter.value = "";
    renderEntities();
    renderOptions((item.label && item.label.intent) || item.predicted.name);
    filter.focus();
  }

  function next() {
    for (var i = state.index + 1; i < cards.length; i++) {
      if (!cards[i].classList.contains("done")) { select(i); return; }
    }
    for (var j = 0; j < state.index; j++) {
      if (!cards[j].classList.contains("done")) { select(j); return; }
    }
    $("nlu-more").hidden = false;
    $("nlu-more").querySelector("a").focus();
    announce("Wszystkie wiadomości z tej strony są oznaczone.");
  }

  // ------------------------------------------------------------------ intents

  function renderOptions(preferred) {
    var query = fold(filter.value.trim());
    state.visible = options.filter(function (option) {
      var shown = !query || fold(option.dataset.search).indexOf(query) !== -1;
      option.hidden = !shown;
      return shown;
    });
    state.visible.forEach(function (option, i) {
      option.querySelector(".key").textContent = i < 9 ? String(i + 1) : "";
    });
    var wanted = state.visible.filter(function (o) { return o.dataset.intent === preferred; })[0];
    highlight(wanted || state.visible[0] || null);
  }

  function highlight(option) {
    state.highlighted = option;
    options.forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    if (option) {
      filter.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      filter.removeAttribute("aria-activedescendant");
    }
  }

  function move(step) {
    var at = state.visible.indexOf(state.highlighted);
    var to = Math.max(0, Math.min(state.visible.length - 1, at + step));
    highlight(state.visible[to] || null);
  }

  // ------------------------------------------------------------------ entities

  var BOUNDARY = /[\s.,;:!?"'()\[\]{}«»„”]/;
  var TRIM = /[\s.,;:!?"']/;

  function wordSpan(value, start, end) {
    // Grow to whole words, then drop spaces and punctuation at the ends.
    while (start > 0 && !BOUNDARY.test(value[start - 1])) { start--; }
    while (end < value.length && !BOUNDARY.test(value[end])) { end++; }
    while (start < end && TRIM.test(value[start])) { start++; }
    while (end > start && TRIM.test(value[end - 1])) { end--; }
    return { start: start, end: end };
  }

  function markEntity() {
    var span = wordSpan(text.value, text.selectionStart, text.selectionEnd);
    if (span.start >= span.end) {
      showError("Najpierw zaznacz fragment wiadomości (myszą albo Shift i strzałkami).");
      text.focus();
      return;
    }
    var overlaps = state.entities.some(function (e) { return span.start < e.end && e.start < span.end; });
    if (overlaps) { showError("Ten fragment nachodzi na już oznaczony."); return; }
    showError("");
    state.entities.push({ start: span.start, end: span.end, entity: $("entity-type").value });
    state.entities.sort(function (a, b) { return a.start - b.start; });
    renderEntities();
    announce("Oznaczono fragment „" + text.value.slice(span.start, span.end) + "”.");
    filter.focus();
  }

  function entityLabel(name) {
    var option = $("entity-type").querySelector('option[value="' + name + '"]');
    return option ? option.textContent : name;
  }

  function renderEntities() {
    var list = $("entity-list");
    list.textContent = "";
    state.entities.forEach(function (entity, i) {
      var li = document.createElement("li");
      li.textContent = "„" + text.value.slice(entity.start, entity.end) + "” – " + entityLabel(entity.entity) + " ";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip";
      remove.textContent = "Usuń";
      remove.setAttribute("aria-label", "Usuń oznaczenie „" + text.value.slice(entity.start, entity.end) + "”");
      remove.addEventListener("click", function () {
        state.entities.splice(i, 1);
        renderEntities();
        filter.focus();
      });
      li.appendChild(remove);
      list.appendChild(li);
    });
    $("nlu-preview").textContent = preview();
  }

  function preview() {
    // The line the export writes: Rasa's [value](entity) syntax.
    var out = "", at = 0, value = text.value;
    state.entities.forEach(function (e) {
      out += value.slice(at, e.start) + "[" + value.slice(e.start, e.end) + "](" + e.entity + ")";
      at = e.end;
    });
    return "- " + (out + value.slice(at)).replace(/\s+/g, " ").trim();
  }

  // ------------------------------------------------------------------ decisions

  async function decide(path, body, message) {
    var card = cards[state.index];
    if (!card || !OPEN[state.item.status]) { return; }
    try {
      var data = await api(state.item.id + "/" + path, body);
      showError("");
      card.dataset.item = JSON.stringify(data.item);
      markDone(card, data.item);
      if (data.labelled > 1) { markSameText(data.item); }
      $("waiting-count").textContent = data.waiting;
      state.undo.push(card);
      $("nlu-undo").disabled = false;
      announce(message(data) + " Czeka: " + data.waiting + ".");
      next();
    } catch (error) {
      showError(error.message);
      filter.focus();
    }
  }

  function markDone(card, item) {
    card.classList.add("done");
    card.querySelector(".outcome").textContent =
      item.label ? "✓ " + item.label.intent_label : item.status_label;
  }

  function markSameText(item) {
    cards.forEach(function (card) {
      var other = itemOf(card);
      if (other.id !== item.id && other.status === "waiting" && other.text === item.text) {
        other.status = item.status;
        other.status_label = item.status_label;
        other.label = item.label;
        card.dataset.item = JSON.stringify(other);
        markDone(card, other);
      }
    });
  }

  function label(intent) {
    if (!intent) { return; }
    decide("label", { intent: intent, entities: state.entities }, function (data) {
      var also = data.labelled > 1 ? " (oraz " + (data.labelled - 1) + " takich samych)" : "";
      return "Zapisano: " + data.item.label.intent_label + also + ".";
    });
  }

  function skip() {
    decide("skip", {}, function () { return "Pominięto."; });
  }

  async function undo() {
    var card = state.undo.pop();
    $("nlu-undo").disabled = state.undo.length === 0;
    if (!card) { return; }
    try {
      var data = await api(itemOf(card).id + "/reopen");
      card.dataset.item = JSON.stringify(data.item);
      card.classList.remove("done");
      card.querySelector(".outcome").textContent = "cofnięto – do oznaczenia";
      $("waiting-count").textContent = data.waiting;
      $("nlu-more").hidden = true;
      select(cards.indexOf(card));
      announce("Cofnięto. Wiadomość znów czeka na oznaczenie.");
    } catch (error) {
      showError(error.message);
    }
  }

  // ------------------------------------------------------------------ keys and clicks

  filter.addEventListener("input", function () { renderOptions(null); });
  filter.addEventListener("keydown", function (event) {
    var key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp") {
      event.preventDefault();
      move(key === "ArrowDown" ? 1 : -1);
    } else if (key === "Enter") {
      event.preventDefault();
      label(state.highlighted && state.highlighted.dataset.intent);
    } else if (/^[1-9]$/.test(key) && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      var option = state.visible[Number(key) - 1];
      if (option) { label(option.dataset.intent); }
    } else if (key === "0" && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      label($("nlu-out-of-scope").dataset.intent);
    } else if (key === "Escape") {
      event.preventDefault();
      if (filter.value) { filter.value = ""; renderOptions(null); } else { skip(); }
    } else if ((key === "z" || key === "Z") && (event.ctrlKey || event.metaKey) && !filter.value) {
      event.preventDefault();
      undo();
    }
  });
  options.forEach(function (option) {
    option.addEventListener("click", function () { label(option.dataset.intent); });
  });
  cards.forEach(function (card, i) { card.addEventListener("click", function () { select(i); }); });
  $("nlu-save").addEventListener("click", function () {
    label(state.highlighted && state.highlighted.dataset.intent);
  });
  $("nlu-out-of-scope").addEventListener("click", function () {
    label($("nlu-out-of-scope").dataset.intent);
  });
  $("nlu-skip").addEventListener("click", skip);
  $("nlu-undo").addEventListener("click", undo);
  $("mark-entity").addEventListener("click", markEntity);

  select(0);
})();
