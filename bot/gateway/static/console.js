/* Pomocnik – the advisers' desk (/agent). Plain JavaScript, no build step.
 *
 * Data comes from the console API (/agent/api/…, JSON; changes carry the page's CSRF token in
 * X-CSRF-Token) and live events from the socket.io namespace "/agent" (path
 * /agent/socket.io, authenticated by the session cookie): "desk_changed" reloads the lists,
 * "conversation_message" appends to the open transcript. Texts are always inserted as text
 * (never as HTML).
 */
(function () {
  "use strict";

  var HEARTBEAT_MS = 30000;
  var CLOCK_MS = 15000;
  var AUTHORS = { visitor: "Klient", bot: "Asystent", agent: "Konsultant", system: "System" };
  var SOURCES = {
    account: "zalogowany na platformie",
    assistant: "tożsamość potwierdzona przez asystenta (kod z e-maila)"
  };

  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var state = {
    selected: null,     // conversation id shown in the centre
    detail: null,       // its last API answer
    lastSeq: 0,         // newest message shown
    clockOffset: 0,     // server time minus browser time, ms
    queue: [],
    mine: [],
    knownQueue: null    // ids seen in the queue, to announce newcomers
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // ------------------------------------------------------------------ API

  async function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    var options = { method: method, credentials: "same-origin", headers: headers };
    if (method !== "GET") { headers["X-CSRF-Token"] = csrf; }
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    var response;
    try {
      response = await fetch("/agent/api/" + path, options);
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
      var error = new Error((data.error && data.error.message) || "Coś poszło nie tak. Spróbuj ponownie.");
      error.code = data.error && data.error.code;
      throw error;
    }
    return data;
  }

  function showError(message) {
    var box = $("desk-error");
    box.textContent = message;
    box.hidden = !message;
  }

  function announce(message) {
    $("announcer").textContent = message;
  }

  // ------------------------------------------------------------------ time

  function serverNow() { return Date.now() + state.clockOffset; }

  function syncClock(iso) {
    if (iso) { state.clockOffset = Date.parse(iso) - Date.now(); }
  }

  function since(iso) {
    var seconds = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 1000));
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min"; }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function clockTime(iso) {
    var date = new Date(iso);
    return date.toLocaleTimeString("pl-PL", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Warsaw" });
  }

  // ------------------------------------------------------------------ lists

  async function refreshLists() {
    try {
      var queue = await api("GET", "queue");
      var mine = await api("GET", "conversations/mine");
      syncClock(queue.now);
      state.queue = queue.queue;
      state.mine = mine.conversations;
      announceNewcomers();
      renderLists();
    } catch (error) {
      showError(error.message);
    }
  }

  function announceNewcomers() {
    var ids = state.queue.map(function (entry) { return entry.conversation_id; });
    if (state.knownQueue !== null) {
      var fresh = ids.filter(function (id) { return state.knownQueue.indexOf(id) < 0; });
      if (fresh.length) { announce("Nowa rozmowa w kolejce. Czekających: " + ids.length + "."); }
    }
    state.knownQueue = ids;
    document.title = (ids.length ? "(" + ids.length + ") " : "") + "Rozmowy – Pomocnik, konsola konsultanta";
  }

  function renderLists() {
    renderList("queue", state.queue, "queued_at", "czeka ");
    renderList("mine", state.mine, "taken_at", "od ");
  }

  function renderList(name, entries, timeField, timePrefix) {
    var list = $(name + "-list");
    var focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.conversation : null;
    list.textContent = "";
    entries.forEach(function (entry) {
      var item = el("li");
      var button = el("button", "card");
      button.type = "button";
      button.dataset.conversation = String(entry.conversation_id);
      button.dataset.since = entry[timeField] || "";
      if (entry.conversation_id === state.selected) { button.setAttribute("aria-current", "true"); }
      var title = el("span", "title");
      title.appendChild(el("span", null, entry.account_name || "Rozmowa nr " + entry.conversation_id));
      var waiting = el("span", "waiting", entry[timeField] ? timePrefix + since(entry[timeField]) : "");
      waiting.dataset.prefix = timePrefix;
      title.appendChild(waiting);
      button.appendChild(title);
      button.appendChild(el("span", "last", entry.last_text ? "„" + entry.last_text + "”" : "(bez wiadomości)"));
      button.addEventListener("click", function () { select(entry.conversation_id); });
      item.appendChild(button);
      list.appendChild(item);
      if (focused === String(entry.conversation_id)) { button.focus(); }
    });
    $(name + "-count").textContent = String(entries.length);
    $(name + "-empty").hidden = entries.length > 0;
  }

  function tickClocks() {
    document.querySelectorAll(".card").forEach(function (card) {
      var waiting = card.querySelector(".waiting");
      if (card.dataset.since && waiting) {
        waiting.textContent = waiting.dataset.prefix + since(card.dataset.since);
      }
    });
  }

  // ------------------------------------------------------------------ one conversation

  async function select(conversationId) {
    showError("");
    if (state.selected !== conversationId) {
      state.selected = conversationId;
      state.lastSeq = 0;
      $("transcript").textContent = "";
      watch();
      history.replaceState(null, "", "#rozmowa-" + conversationId);
    }
    document.querySelectorAll(".card").forEach(function (card) {
      if (card.dataset.conversation === String(conversationId)) {
        card.setAttribute("aria-current", "true");
      } else {
        card.removeAttribute("aria-current");
      }
    });
    await refreshSelected();
  }

  async function refreshSelected() {
    if (state.selected === null) { return; }
    var id = state.selected;
    try {
      var detail = await api("GET", "conversations/" + id);
      if (state.selected !== id) { return; }
      state.detail = detail;
      renderDetail(detail);
    } catch (error) {
      showError(error.message);
    }
  }

  function renderDetail(detail) {
    var conversation = detail.conversation;
    var identity = detail.identity;
    $("conversation-title").textContent = "Rozmowa nr " + conversation.id +
      (identity.name ? " – " + identity.name : "");
    var holder = conversation.handling === "agent"
      ? (conversation.mine ? "prowadzisz ją Ty" : "prowadzi: " + (conversation.agent_name || "inny konsultant"))
      : conversation.handling_label;
    $("conversation-state").textContent = "Stan: " + holder + ".";
    detail.messages.forEach(appendMessage);
    renderActions(conversation);
    renderIdentity(identity);
    renderIntents(detail.intents);
    renderInsight(detail.insight);
    renderRating(conversation);
  }

  function renderActions(conversation) {
    var holding = conversation.handling === "agent" && conversation.mine;
    $("take").disabled = conversation.handling !== "queued";
    $("hand-back").disabled = !holding;
    $("close").disabled = !holding;
    $("reply-text").disabled = !holding;
    $("send").disabled = !holding;
    document.querySelectorAll(".canned-item").forEach(function (button) { button.disabled = !holding; });
  }

  function appendMessage(message) {
    if (message.seq <= state.lastSeq) { return; }
    state.lastSeq = message.seq;
    var hasButtons = message.buttons && message.buttons.length;
    if (!message.text && !hasButtons) { return; }  // data for the chat window only
    var list = $("transcript");
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    var item = el("li", "message " + message.author);
    var author = AUTHORS[message.author] || message.author;
    if (message.author === "agent" && message.agent) { author += " (" + message.agent + ")"; }
    item.appendChild(el("span", "author", author));
    var time = el("time", null, clockTime(message.at));
    time.dateTime = message.at;
    item.appendChild(time);
    item.appendChild(el("p", null, message.text));
    if (message.secret) { item.appendChild(el("span", "secret", "(dane poufne – ukryte)")); }
    if (hasButtons) {
      var titles = message.buttons.map(function (button) { return button.title; }).join(" · ");
      item.appendChild(el("span", "buttons", "Przyciski: " + titles));
    }
    list.appendChild(item);
    if (nearBottom || list.children.length < 3) { list.scrollTop = list.scrollHeight; }
  }

  function facts(pairs) {
    var list = el("dl", "facts");
    pairs.forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
      list.appendChild(el("dt", null, pair[0]));
      list.appendChild(el("dd", null, String(pair[1])));
    });
    return list;
  }

  function renderIdentity(identity) {
    var box = $("identity");
    box.textContent = "";
    if (!identity.verified) {
      box.appendChild(el("p", "unverified", "Niezweryfikowany"));
      box.appendChild(el("p", "muted small",
        "Klient nie jest zalogowany, a asystent nie potwierdził jego tożsamości."));
      return;
    }
    box.appendChild(el("p", "verified", "Zweryfikowany – " + SOURCES[identity.source]));
    box.appendChild(facts([["Imię i nazwisko", identity.name], ["E-mail", identity.email],
      ["Firma / biuro", identity.organisation]]));
  }

  function renderIntents(intents) {
    var list = $("intents");
    list.textContent = "";
    if (!intents.length) {
      list.appendChild(el("li", "muted", "Brak."));
      return;
    }
    intents.forEach(function (seen) {
      var item = el("li");
      item.appendChild(el("strong", null, seen.label));
      item.appendChild(el("span", "muted small", " " + clockTime(seen.at) + " – „" + seen.text + "”"));
      list.appendChild(item);
    });
  }

  function renderInsight(insight) {
    var box = $("insight");
    box.textContent = "";
    if (!insight) {
      box.appendChild(el("p", "muted small", "Asystent nie udostępnia teraz swoich danych."));
      return;
    }
    var pairs = [["Ostatnia intencja", insight.intent_label],
      ["Aktywny formularz", insight.form_label || "brak"]];
    Object.keys(insight.slots).forEach(function (name) {
      pairs.push([insight.slot_labels[name] || name, insight.slots[name]]);
    });
    box.appendChild(facts(pairs));
  }

  function renderRating(conversation) {
    var box = $("rating");
    box.textContent = "";
    if (!conversation.rating) {
      box.appendChild(el("p", "muted", "Brak oceny."));
      return;
    }
    box.appendChild(el("p", null, "Ocena: " + conversation.rating + " / 5"));
    if (conversation.rating_comment) { box.appendChild(el("p", "muted", "„" + conversation.rating_comment + "”")); }
  }

  // ------------------------------------------------------------------ actions

  async function act(action, announcement) {
    if (state.selected === null) { return; }
    showError("");
    try {
      await api("POST", "conversations/" + state.selected + "/" + action);
      announce(announcement);
    } catch (error) {
      showError(error.message);
    }
    await refreshSelected();
    await refreshLists();
  }

  async function sendReply(event) {
    event.preventDefault();
    var box = $("reply-text");
    var text = box.value.trim();
    if (!text || state.selected === null) { return; }
    $("send").disabled = true;
    showError("");
    try {
      var answer = await api("POST", "conversations/" + state.selected + "/reply", { text: text });
      appendMessage(answer.message);
      box.value = "";
    } catch (error) {
      showError(error.message);
    }
    $("send").disabled = box.disabled;
    box.focus();
  }

  function insertCanned(event) {
    var box = $("reply-text");
    if (box.disabled) { return; }
    var text = event.currentTarget.dataset.text;
    var start = box.selectionStart || 0;
    var end = box.selectionEnd || 0;
    var before = box.value.slice(0, start);
    var glue = before && !/\s$/.test(before) ? " " : "";
    box.value = before + glue + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + glue.length + text.length;
  }

  // ------------------------------------------------------------------ live

  var socket = null;

  function watch() {
    if (socket && socket.connected && state.selected !== null) {
      socket.emit("watch", { conversation_id: state.selected }, function (answer) {
        if (answer && answer.error === "agent_unauthorized") { window.location.assign("/agent/login"); }
      });
    }
  }

  function setConnection(online, text) {
    var line = $("connection");
    line.textContent = text;
    line.classList.toggle("offline", !online);
  }

  function connect() {
    if (typeof io !== "function") {
      setConnection(false, "Brak połączenia na żywo – odśwież stronę.");
      return;
    }
    socket = io("/agent", { path: "/agent/socket.io", transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      setConnection(true, "Połączono – kolejka odświeża się na bieżąco.");
      watch();
      refreshLists();
      refreshSelected();
    });
    socket.on("disconnect", function () {
      setConnection(false, "Rozłączono – próbuję połączyć ponownie…");
    });
    socket.on("connect_error", function (error) {
      if (error && error.message === "agent_unauthorized") {
        window.location.assign("/agent/login");
        return;
      }
      setConnection(false, "Brak połączenia na żywo – próbuję ponownie…");
    });
    socket.on("desk_changed", function () {
      refreshLists();
      refreshSelected();
    });
    socket.on("conversation_message", function (data) {
      if (data && data.conversation_id === state.selected) {
        appendMessage(data.message);
        if (data.message.author === "visitor") { announce("Nowa wiadomość od klienta."); }
      }
    });
  }

  function heartbeat() {
    api("POST", "heartbeat").catch(function () { /* the next beat retries */ });
  }

  // ------------------------------------------------------------------ start

  function start() {
    $("take").addEventListener("click", function () { act("take", "Przejęto rozmowę."); });
    $("hand-back").addEventListener("click", function () {
      act("hand-back", "Rozmowa wróciła do asystenta.");
    });
    $("close").addEventListener("click", function () { act("close", "Rozmowa zakończona."); });
    $("reply-form").addEventListener("submit", sendReply);
    $("reply-text").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { sendReply(event); }
    });
    document.querySelectorAll(".canned-item").forEach(function (button) {
      button.addEventListener("click", insertCanned);
    });
    heartbeat();
    setInterval(heartbeat, HEARTBEAT_MS);
    setInterval(tickClocks, CLOCK_MS);
    refreshLists();
    var match = /^#rozmowa-(\d+)$/.exec(window.location.hash);
    if (match) { select(Number(match[1])); }
    connect();
  }

  start();
}());
