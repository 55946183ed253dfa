/*
 * Pomocnik chat widget: vanilla JS, no build step, nothing loaded from other origins.
 *
 * Embed with one tag:
 *   <script src="https://<gateway>/widget/widget.js" defer data-title="Pomocnik"></script>
 * Optional: data-api-base="https://<gateway>" (defaults to the script's origin) and
 * data-transports="websocket,polling" (socket.io transports, in the order tried).
 *
 * It talks to the gateway over socket.io with Rasa's channel protocol (session_request /
 * session_confirm, user_uttered / bot_uttered) plus the gateway's extra events
 * (pomocnik_history, pomocnik_message, pomocnik_status); see bot/gateway/socket_channel.py.
 * The socket.io client is the official one, served by the gateway next to this file
 * (socket.io.min.js); the widget loads it when it first needs the connection.
 *
 * The browser keeps only the conversation (session) id; the transcript lives on the gateway
 * and is replayed after a reload, in another tab, and after a dropped connection. Every
 * message carries a client id, so a message re-sent after a reconnect is never doubled.
 *
 * The pure helpers at the top are exported under Node (module.exports) so they can be tested
 * without a browser; the DOM part only runs in a browser.
 */
(function (root) {
  "use strict";

  var STORAGE_KEY = "pomocnik.conversation";
  var MAX_LENGTH = 1000;
  var ACK_TIMEOUT_MS = 10000;
  var REPLY_TIMEOUT_MS = 45000;
  var MASK = "••••";
  var SOCKET_CLIENT = "socket.io.min.js";
  var DEFAULT_TRANSPORTS = ["websocket", "polling"];

  var TEXT = {
    launcher: "Czat z Pomocnikiem",
    titleSuffix: " – asystent iKsięgowość24",
    close: "Zamknij czat",
    messages: "Wiadomości",
    inputLabel: "Twoja wiadomość",
    placeholder: "Napisz wiadomość…",
    secretLabel: "Kod lub PIN (wpisywane znaki są ukryte)",
    secretPlaceholder: "Wpisz kod lub PIN…",
    hiddenValue: "ukryta wartość",
    send: "Wyślij",
    typing: "Pomocnik pisze…",
    botPrefix: "Pomocnik:",
    agentPrefix: "Doradca:",
    systemPrefix: "Informacja:",
    userPrefix: "Ty:",
    quickReplies: "Szybkie odpowiedzi",
    notSent: "Nie wysłano",
    newTab: " (otwiera się w nowej karcie)",
    image: "Zobacz obraz",
    reconnecting: "Połączenie z czatem zostało przerwane. Łączę ponownie…",
    networkError:
      "Nie udało się połączyć z serwerem. Sprawdź połączenie z internetem i spróbuj ponownie.",
    timeoutError: "Odpowiedź trwa zbyt długo. Spróbuj ponownie za chwilę.",
    genericError: "Coś poszło nie tak. Spróbuj ponownie za chwilę.",
  };

  var GREETING = {
    text: "Dzień dobry! Jestem Pomocnik, asystent iKsięgowość24. W czym mogę pomóc?",
    buttons: [
      { title: "Nie pamiętam hasła", payload: "Nie pamiętam hasła" },
      { title: "Jak się zalogować?", payload: "Jak się zalogować?" },
    ],
  };

  /* ------------------------------------------------------------------ */
  /* Pure helpers                                                        */
  /* ------------------------------------------------------------------ */

  var HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return HTML_ESCAPES[ch];
    });
  }

  // Runs on already escaped text: a link ends at whitespace or at an escaped
  // quote/angle bracket, so it can never break out of the href attribute.
  var LINK_PATTERN =
    /\b(?:https?:\/\/|www\.)(?:(?!&(?:quot|#39|lt|gt);)\S)+|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/gi;
  var TRAILING_PUNCTUATION = /[.,;:!?]+$/;

  function splitTrailing(match) {
    var trailing = (match.match(TRAILING_PUNCTUATION) || [""])[0];
    var link = match.slice(0, match.length - trailing.length);
    // In "(see www.example.pl)" the closing parenthesis is not part of the link.
    if (link.slice(-1) === ")" && link.indexOf("(") === -1) {
      link = link.slice(0, -1);
      trailing = ")" + trailing;
    }
    return { link: link, trailing: trailing };
  }

  var WEB_LINK = /^(?:https?:\/\/|www\.)[^./]/i;
  var EMAIL = /^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$/;

  function isLinkable(link) {
    return WEB_LINK.test(link) || EMAIL.test(link);
  }

  function linkHtml(link) {
    if (!WEB_LINK.test(link)) {
      return '<a href="mailto:' + link + '">' + link + "</a>";
    }
    var href = /^www\./i.test(link) ? "https://" + link : link;
    return (
      '<a href="' + href + '" target="_blank" rel="noopener noreferrer">' + link +
      '<span class="pomocnik-sr-only">' + TEXT.newTab + "</span></a>"
    );
  }

  /** Bot text to safe HTML: escape everything, then add links and line breaks. */
  function toSafeHtml(text) {
    return escapeHtml(text)
      .replace(LINK_PATTERN, function (match) {
        var parts = splitTrailing(match);
        return isLinkable(parts.link) ? linkHtml(parts.link) + parts.trailing : match;
      })
      .replace(/\r\n|\r|\n/g, "<br>");
  }

  function pad2(value) {
    return value < 10 ? "0" + value : String(value);
  }

  function formatTime(date) {
    return pad2(date.getHours()) + ":" + pad2(date.getMinutes());
  }

  /** A message asks for a PIN or a code: {"custom": {"input": "secret"}} (the gateway's flag). */
  function asksForSecret(message) {
    return !!(message && message.custom && message.custom.input === "secret");
  }

  /** What a visitor's message shows: dots for a secret, a quick reply's label, or the text. */
  function visitorText(message) {
    if (message.secret) return MASK;
    return message.title || message.text || "";
  }

  /** A client message id: 22 URL-safe random characters. */
  function newClientId(cryptoObject) {
    var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    var bytes = new Uint8Array(22);
    if (cryptoObject && cryptoObject.getRandomValues) cryptoObject.getRandomValues(bytes);
    else for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    var out = "";
    for (var j = 0; j < bytes.length; j++) out += alphabet[bytes[j] & 63];
    return out;
  }

  var helpers = {
    escapeHtml: escapeHtml,
    toSafeHtml: toSafeHtml,
    formatTime: formatTime,
    asksForSecret: asksForSecret,
    visitorText: visitorText,
    newClientId: newClientId,
    MASK: MASK,
  };

  if (typeof module === "object" && module.exports) {
    module.exports = helpers;
    return;
  }
  if (!root || !root.document || root.__pomocnikWidget) {
    return;
  }

  /* ------------------------------------------------------------------ */
  /* Storage and the socket.io client                                    */
  /* ------------------------------------------------------------------ */

  // localStorage can be disabled or throw (private mode); fall back to memory.
  function createStore() {
    var memory = null;
    return {
      get: function () {
        try {
          return root.localStorage.getItem(STORAGE_KEY) || memory;
        } catch (e) {
          return memory;
        }
      },
      set: function (value) {
        memory = value;
        try {
          if (value) root.localStorage.setItem(STORAGE_KEY, value);
          else root.localStorage.removeItem(STORAGE_KEY);
        } catch (e) {
          /* memory copy is enough for this page view */
        }
      },
    };
  }

  var doc = root.document;

  /** Load the vendored socket.io client once; resolves with its `io` function. */
  function socketClientLoader(url) {
    var loading = null;
    return function () {
      if (loading) return loading;
      loading = new Promise(function (resolve, reject) {
        var previous = root.io; // a host page's own socket.io client stays untouched
        var script = doc.createElement("script");
        script.src = url;
        script.async = true;
        script.addEventListener("load", function () {
          var io = root.io;
          if (previous !== undefined) root.io = previous;
          if (typeof io === "function") resolve(io);
          else reject(new Error("socket.io client missing"));
        });
        script.addEventListener("error", function () {
          loading = null; // try again on the next send
          reject(new Error("socket.io client not loaded"));
        });
        doc.head.appendChild(script);
      });
      return loading;
    };
  }

  /**
   * The connection to the gateway. Messages wait in an outbox until the gateway acknowledges
   * them; after a reconnect the unacknowledged ones are sent again with the same client id
   * (the gateway stores and relays each id once).
   */
  function Connection(options) {
    this.apiBase = options.apiBase.replace(/\/+$/, "");
    this.store = options.store;
    this.loadClient = options.loadClient;
    this.transports = options.transports;
    this.events = options.events; // onHistory, onMessage, onStatus, onOnline, onOffline, historyAfter
    this.socket = null;
    this.confirmed = false;
    this.everConfirmed = false;
    this.outbox = [];
  }

  Connection.prototype.open = function () {
    var self = this;
    if (this.socket || this.opening) return this.opening || Promise.resolve();
    this.opening = this.loadClient().then(
      function (io) {
        self.opening = null;
        self.connect(io);
      },
      function () {
        self.opening = null;
        self.failOutbox(TEXT.networkError);
      }
    );
    return this.opening;
  };

  Connection.prototype.connect = function (io) {
    var self = this;
    var socket = io(this.apiBase, {
      path: "/socket.io",
      transports: this.transports,
      tryAllTransports: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      timeout: 10000,
    });
    this.socket = socket;
    socket.on("connect", function () {
      self.confirmed = false;
      socket.emit("session_request", {
        session_id: self.store.get(),
        history_after: self.events.historyAfter(),
      });
    });
    socket.on("session_confirm", function (data) {
      var id = typeof data === "string" ? data : data && data.session_id;
      if (!id) return;
      if (self.store.get() !== id) self.store.set(id);
      self.confirmed = true;
      self.everConfirmed = true;
      self.events.onOnline();
      self.flush();
    });
    socket.on("pomocnik_history", function (data) {
      if (data && Array.isArray(data.messages)) self.events.onHistory(data.messages);
    });
    socket.on("pomocnik_message", function (message) {
      if (message && typeof message.seq === "number") self.events.onMessage(message);
    });
    socket.on("pomocnik_status", function (status) {
      if (status && typeof status.seq === "number") self.events.onStatus(status);
    });
    socket.on("disconnect", function () {
      self.confirmed = false;
      // Our outbox re-sends what was not acknowledged; socket.io's own buffer would double it.
      socket.sendBuffer = [];
      if (self.everConfirmed) self.events.onOffline();
    });
    socket.on("connect_error", function () {
      if (!self.everConfirmed) self.failOutbox(TEXT.networkError);
      else self.events.onOffline();
    });
  };

  /** Queue a message; `entry` = {cid, message, title, onAck(seq), onError(error)}. */
  Connection.prototype.send = function (entry) {
    this.outbox.push(entry);
    if (this.confirmed) this.transmit(entry);
    else this.open();
  };

  Connection.prototype.flush = function () {
    this.outbox.slice().forEach(this.transmit, this);
  };

  Connection.prototype.transmit = function (entry) {
    var self = this;
    var socket = this.socket;
    var payload = { message: entry.message, session_id: this.store.get(), cid: entry.cid };
    if (entry.title) payload.title = entry.title;
    socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", payload, function (err, ack) {
      if (self.outbox.indexOf(entry) === -1) return; // already settled
      if (err) {
        // No acknowledgement: send again while connected (the gateway drops the duplicate);
        // after a disconnect the reconnect sends it.
        if (self.confirmed && socket === self.socket) self.transmit(entry);
        return;
      }
      self.settle(entry);
      if (ack && ack.ok) entry.onAck(ack.seq);
      else entry.onError((ack && ack.error) || { message: TEXT.genericError });
    });
  };

  Connection.prototype.settle = function (entry) {
    var index = this.outbox.indexOf(entry);
    if (index !== -1) this.outbox.splice(index, 1);
  };

  Connection.prototype.failOutbox = function (message) {
    var failed = this.outbox.splice(0, this.outbox.length);
    failed.forEach(function (entry) {
      entry.onError({ code: "network", message: message });
    });
  };

  /* ------------------------------------------------------------------ */
  /* DOM                                                                 */
  /* ------------------------------------------------------------------ */

  var SVG_NS = "http://www.w3.org/2000/svg";

  function el(tag, className, text) {
    var node = doc.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function srOnly(text) {
    return el("span", "pomocnik-sr-only", text);
  }

  function chatIcon() {
    var svg = doc.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = doc.createElementNS(SVG_NS, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"
    );
    svg.appendChild(path);
    return svg;
  }

  function timeElement(at) {
    var time = el("time", "pomocnik-time");
    setTime(time, at);
    return time;
  }

  /** Show a message's time (the gateway's timestamp once known), as HH:MM local time. */
  function setTime(time, at) {
    if (!time) return;
    var when = at ? new Date(at) : new Date();
    if (isNaN(when.getTime())) when = new Date();
    time.textContent = formatTime(when);
    time.setAttribute("datetime", when.toISOString());
  }

  function Widget(options) {
    this.title = options.title;
    this.store = options.store;
    this.pending = false; // this tab waits for the answer to its own message
    this.greeted = false;
    this.secretMode = false;
    this.secretExpected = false;
    this.lastSeq = 0;
    this.bySeq = {}; // seq -> message element
    this.byCid = {}; // client id -> visitor message element
    this.waitingSeqs = {}; // visitor messages (any tab) the assistant has not answered yet
    this.outcome = null; // the message this tab waits for: {cid, resolve}
    this.connection = new Connection({
      apiBase: options.apiBase,
      store: options.store,
      loadClient: options.loadClient,
      transports: options.transports,
      events: {
        historyAfter: this.historyAfter.bind(this),
        onHistory: this.onHistory.bind(this),
        onMessage: this.render.bind(this),
        onStatus: this.onStatus.bind(this),
        onOnline: this.hideConnectionState.bind(this),
        onOffline: this.showConnectionState.bind(this),
      },
    });
    this.build();
  }

  Widget.prototype.build = function () {
    var self = this;
    this.root = el("div", "pomocnik-root");

    this.launcher = el("button", "pomocnik-launcher");
    this.launcher.type = "button";
    this.launcher.setAttribute("aria-label", TEXT.launcher);
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-controls", "pomocnik-panel");
    this.launcher.appendChild(chatIcon());
    this.launcher.appendChild(el("span", "pomocnik-launcher-text", TEXT.launcher));
    this.launcher.addEventListener("click", function () {
      if (self.panel.hidden) self.open();
      else self.close();
    });

    this.panel = this.buildPanel();
    this.root.appendChild(this.panel);
    this.root.appendChild(this.launcher);
    doc.body.appendChild(this.root);
  };

  Widget.prototype.buildPanel = function () {
    var self = this;
    var heading = this.title + TEXT.titleSuffix;
    var panel = el("section", "pomocnik-panel");
    panel.id = "pomocnik-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", heading);
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        self.close();
      }
    });

    var header = el("div", "pomocnik-header");
    header.appendChild(el("h2", "pomocnik-title", heading));
    var closeButton = el("button", "pomocnik-close");
    closeButton.type = "button";
    closeButton.setAttribute("aria-label", TEXT.close);
    closeButton.appendChild(el("span", "", "×")).setAttribute("aria-hidden", "true");
    closeButton.addEventListener("click", function () {
      self.close();
    });
    header.appendChild(closeButton);

    this.log = el("div", "pomocnik-messages");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-label", TEXT.messages);
    this.log.tabIndex = 0; // scrollable region must be reachable by keyboard

    this.typing = el("div", "pomocnik-typing");
    this.typing.appendChild(el("span", "pomocnik-typing-text", TEXT.typing));
    var dots = el("span", "pomocnik-typing-dots");
    dots.setAttribute("aria-hidden", "true");
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    this.typing.appendChild(dots);

    this.connectionState = el("p", "pomocnik-connection");
    this.connectionState.setAttribute("role", "status");
    this.connectionState.hidden = true;

    this.notice = el("p", "pomocnik-notice");
    this.notice.setAttribute("role", "alert");
    this.notice.hidden = true;

    panel.appendChild(header);
    panel.appendChild(this.log);
    panel.appendChild(this.connectionState);
    panel.appendChild(this.notice);
    panel.appendChild(this.buildForm());
    return panel;
  };

  Widget.prototype.buildForm = function () {
    var self = this;
    var form = el("form", "pomocnik-form");
    form.noValidate = true;
    this.label = el("label", "pomocnik-sr-only", TEXT.inputLabel);
    this.label.htmlFor = "pomocnik-input";

    function sendOnEnter(event) {
      // Enter sends, Shift+Enter adds a line; never interrupt IME composition.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.submitInput();
      }
    }

    this.textInput = el("textarea", "pomocnik-input");
    this.textInput.id = "pomocnik-input";
    this.textInput.rows = 1;
    this.textInput.maxLength = MAX_LENGTH;
    this.textInput.placeholder = TEXT.placeholder;
    this.textInput.setAttribute("autocomplete", "off");
    this.textInput.addEventListener("keydown", sendOnEnter);

    // Shown instead of the text area while the assistant waits for a PIN or a code.
    this.secretInput = el("input", "pomocnik-input pomocnik-input--secret");
    this.secretInput.id = "pomocnik-secret-input";
    this.secretInput.type = "password";
    this.secretInput.maxLength = MAX_LENGTH;
    this.secretInput.placeholder = TEXT.secretPlaceholder;
    this.secretInput.setAttribute("autocomplete", "one-time-code");
    this.secretInput.setAttribute("spellcheck", "false");
    this.secretInput.hidden = true;
    this.secretInput.addEventListener("keydown", sendOnEnter);
    this.input = this.textInput;

    this.sendButton = el("button", "pomocnik-send", TEXT.send);
    this.sendButton.type = "submit";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submitInput();
    });

    form.appendChild(this.label);
    form.appendChild(this.textInput);
    form.appendChild(this.secretInput);
    form.appendChild(this.sendButton);
    return form;
  };

  Widget.prototype.open = function () {
    this.panel.hidden = false;
    this.root.classList.add("pomocnik-is-open");
    this.launcher.setAttribute("aria-expanded", "true");
    if (!this.greeted) {
      this.greeted = true;
      this.addBotMessage(GREETING);
      // A stored conversation: connect now to show its history (a new one starts on send).
      if (this.store.get()) this.connection.open();
    }
    this.scrollToEnd();
    this.input.focus();
  };

  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.root.classList.remove("pomocnik-is-open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.focus();
  };

  Widget.prototype.submitInput = async function () {
    var field = this.input;
    var text = field.value.trim();
    if (!text || this.pending) return;
    field.value = "";
    var sent = await this.send(text, this.secretMode ? MASK : text);
    // Nothing typed is lost: put the text back unless the user already typed anew.
    if (!sent && !field.value) field.value = text;
    this.input.focus();
  };

  /**
   * Send `text` to the assistant, showing `shownText` as the user's message. Resolves with
   * true once answered, false when the message was refused or could not be delivered.
   */
  Widget.prototype.send = function (text, shownText, title) {
    var self = this;
    if (this.pending) return Promise.resolve(false);
    this.hideNotice();
    var cid = newClientId(root.crypto);
    var message = this.addUserMessage(shownText, { cid: cid });
    this.byCid[cid] = message;
    this.setPending(true);
    return new Promise(function (resolve) {
      var timer = null;
      self.outcome = {
        cid: cid,
        finish: function (ok, error) {
          if (self.outcome === null || self.outcome.cid !== cid) return;
          clearTimeout(timer);
          self.outcome = null;
          self.setPending(false);
          if (!ok) {
            self.markFailed(message);
            self.showNotice((error && error.message) || TEXT.genericError);
          }
          resolve(ok);
        },
      };
      self.connection.send({
        cid: cid,
        message: text,
        title: title,
        onAck: function (seq) {
          self.attachSeq(message, seq);
          if (!self.outcome || self.outcome.cid !== cid) return; // already answered
          // Stored: now wait for the answer (or its failure), announced by the gateway.
          timer = setTimeout(function () {
            if (self.outcome && self.outcome.cid === cid) {
              delete self.waitingSeqs[seq];
              self.outcome.finish(true);
              self.showNotice(TEXT.timeoutError);
            }
          }, REPLY_TIMEOUT_MS);
          var status = message.getAttribute("data-status");
          if (status && status !== "pending") {
            self.outcome.finish(status === "answered");
          } else {
            // Until answered, a reconnect asks for the history from this message on.
            self.waitingSeqs[seq] = true;
          }
        },
        onError: function (error) {
          if (self.outcome) self.outcome.finish(false, error);
        },
      });
    });
  };

  Widget.prototype.setPending = function (pending) {
    this.pending = pending;
    this.sendButton.setAttribute("aria-disabled", pending ? "true" : "false");
    this.updateTyping();
  };

  Widget.prototype.updateTyping = function () {
    var waiting = this.pending || Object.keys(this.waitingSeqs).length > 0;
    if (waiting && this.typing.parentNode !== this.log) this.log.appendChild(this.typing);
    else if (!waiting && this.typing.parentNode) this.typing.parentNode.removeChild(this.typing);
    this.scrollToEnd();
  };

  /* ---------- messages from the gateway ---------- */

  /** Ask for the history after this seq: the newest seen, or before the oldest unanswered. */
  Widget.prototype.historyAfter = function () {
    var after = this.lastSeq;
    Object.keys(this.waitingSeqs).forEach(function (seq) {
      after = Math.min(after, Number(seq) - 1);
    });
    return Math.max(0, after);
  };

  Widget.prototype.onHistory = function (messages) {
    this.log.setAttribute("aria-busy", "true");
    messages.forEach(this.render, this);
    this.log.setAttribute("aria-busy", "false");
  };

  /** Show a stored message once, in seq order, whichever way it arrives. */
  Widget.prototype.render = function (message) {
    var seq = message.seq;
    var node = this.bySeq[seq];
    if (!node && message.author === "visitor" && message.cid && this.byCid[message.cid]) {
      node = this.byCid[message.cid]; // this tab's own message: give it its seq and time
      this.attachSeq(node, seq);
      setTime(node.querySelector("time"), message.at);
    }
    if (!node) {
      if (message.author === "visitor") {
        node = this.addUserMessage(visitorText(message), { seq: seq, at: message.at });
      } else {
        node = this.addBotMessage(message, seq);
      }
      this.bySeq[seq] = node;
    }
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (message.author === "visitor") {
      this.applyStatus(node, seq, message.status, message.cid);
      this.secretExpected = false;
    } else if (asksForSecret(message)) {
      this.secretExpected = true;
    }
    if (seq >= this.lastSeq) this.setSecretMode(this.secretExpected);
  };

  Widget.prototype.onStatus = function (status) {
    var node = this.bySeq[status.seq] || (status.cid && this.byCid[status.cid]);
    if (!node) return;
    this.applyStatus(node, status.seq, status.status, status.cid, status.error);
  };

  Widget.prototype.applyStatus = function (node, seq, status, cid, error) {
    if (!status || !node) return;
    node.setAttribute("data-status", status);
    if (status === "pending") this.waitingSeqs[seq] = true;
    else delete this.waitingSeqs[seq];
    // Once answered, the quick replies offered before the message are spent.
    if (status === "answered") this.disableEarlierQuickReplies(seq);
    if (status === "failed") this.markFailed(node);
    else if (status !== "failed" && node.classList.contains("pomocnik-message--failed")) {
      this.clearFailed(node);
    }
    if (this.outcome && cid && this.outcome.cid === cid && status !== "pending") {
      this.outcome.finish(status === "answered", error);
    }
    this.updateTyping();
  };

  Widget.prototype.attachSeq = function (node, seq) {
    if (typeof seq !== "number") return;
    node.setAttribute("data-seq", String(seq));
    this.bySeq[seq] = node;
    if (seq > this.lastSeq) this.lastSeq = seq;
  };

  Widget.prototype.markFailed = function (node) {
    if (node.classList.contains("pomocnik-message--failed")) return;
    node.classList.add("pomocnik-message--failed");
    node.appendChild(el("span", "pomocnik-failed", TEXT.notSent));
  };

  Widget.prototype.clearFailed = function (node) {
    node.classList.remove("pomocnik-message--failed");
    Array.prototype.forEach.call(node.querySelectorAll("span"), function (mark) {
      if (mark.className === "pomocnik-failed") mark.parentNode.removeChild(mark);
    });
  };

  /* ---------- the masked input ---------- */

  Widget.prototype.setSecretMode = function (on) {
    if (on === this.secretMode) return;
    var from = this.input;
    var to = on ? this.secretInput : this.textInput;
    var hadFocus = doc.activeElement === from;
    this.secretMode = on;
    from.hidden = true;
    to.hidden = false;
    to.value = "";
    this.input = to;
    this.label.htmlFor = to.id;
    this.label.textContent = on ? TEXT.secretLabel : TEXT.inputLabel;
    if (hadFocus || !this.panel.hidden) to.focus();
  };

  /* ---------- rendering ---------- */

  Widget.prototype.addUserMessage = function (text, options) {
    options = options || {};
    var message = el("div", "pomocnik-message pomocnik-message--user");
    message.appendChild(srOnly(TEXT.userPrefix + " "));
    var bubble = el("div", "pomocnik-bubble", text); // textContent: never parsed as HTML
    if (text === MASK) {
      bubble.setAttribute("aria-hidden", "true");
      message.appendChild(srOnly(TEXT.hiddenValue));
      message.classList.add("pomocnik-message--secret");
    }
    message.appendChild(bubble);
    message.appendChild(timeElement(options.at));
    if (options.seq !== undefined) message.setAttribute("data-seq", String(options.seq));
    this.insert(message, options.seq);
    return message;
  };

  /** A bot (or adviser, or system) message; returns its element. */
  Widget.prototype.addBotMessage = function (reply, seq) {
    var prefix =
      reply.author === "agent"
        ? TEXT.agentPrefix
        : reply.author === "system"
          ? TEXT.systemPrefix
          : TEXT.botPrefix;
    var hasText = typeof reply.text === "string" && reply.text.trim() !== "";
    var message = el("div", "pomocnik-message pomocnik-message--bot");
    if (reply.author === "agent") message.classList.add("pomocnik-message--agent");
    if (seq !== undefined) message.setAttribute("data-seq", String(seq));
    if (hasText || reply.image) {
      message.appendChild(srOnly(prefix + " "));
      var bubble = el("div", "pomocnik-bubble");
      if (hasText) bubble.innerHTML = toSafeHtml(reply.text);
      if (reply.image) bubble.appendChild(this.imageLink(reply.image));
      message.appendChild(bubble);
      message.appendChild(timeElement(reply.at));
    } else {
      message.hidden = true; // e.g. only the input-mode flag: nothing to show
    }
    this.insert(message, seq);
    if (Array.isArray(reply.buttons) && reply.buttons.length) {
      var group = this.quickReplies(reply.buttons);
      if (seq !== undefined) group.setAttribute("data-seq", String(seq));
      this.insert(group, seq);
    }
    return message;
  };

  Widget.prototype.imageLink = function (url) {
    var wrapper = el("div", "pomocnik-image-link");
    var link = el("a", "", TEXT.image);
    link.href = /^https?:\/\//i.test(url) ? url : "#";
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.appendChild(srOnly(TEXT.newTab));
    wrapper.appendChild(link);
    return wrapper;
  };

  Widget.prototype.quickReplies = function (buttons) {
    var self = this;
    var group = el("div", "pomocnik-quick-replies");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.quickReplies);
    buttons.forEach(function (button) {
      var node = el("button", "pomocnik-quick-reply", button.title);
      node.type = "button";
      node.addEventListener("click", function () {
        self.chooseQuickReply(group, node, button);
      });
      group.appendChild(node);
    });
    return group;
  };

  Widget.prototype.chooseQuickReply = async function (group, node, button) {
    if (this.pending) return;
    setGroupDisabled(group, true);
    node.classList.add("pomocnik-quick-reply--chosen");
    this.input.focus(); // the clicked button is now disabled and would drop focus
    var sent = await this.send(button.payload || button.title, button.title, button.title);
    if (!sent) {
      setGroupDisabled(group, false);
      node.classList.remove("pomocnik-quick-reply--chosen");
    }
  };

  /** An answered visitor message spends the quick replies offered before it. */
  Widget.prototype.disableEarlierQuickReplies = function (seq) {
    var children = this.log.children;
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      if (!child.classList.contains("pomocnik-quick-replies")) continue;
      var childSeq = child.getAttribute("data-seq");
      if (childSeq === null || Number(childSeq) < seq) setGroupDisabled(child, true);
    }
  };

  function setGroupDisabled(group, disabled) {
    Array.prototype.forEach.call(group.querySelectorAll("button"), function (button) {
      button.disabled = disabled;
    });
  }

  /** Insert in seq order (no seq: at the end), always before the typing indicator. */
  Widget.prototype.insert = function (node, seq) {
    var before = this.typing.parentNode === this.log ? this.typing : null;
    if (seq !== undefined) {
      var children = this.log.children;
      for (var i = 0; i < children.length; i++) {
        var childSeq = children[i].getAttribute("data-seq");
        if (childSeq !== null && Number(childSeq) > seq) {
          before = children[i];
          break;
        }
      }
    }
    if (before) this.log.insertBefore(node, before);
    else this.log.appendChild(node);
    this.scrollToEnd();
  };

  Widget.prototype.scrollToEnd = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Widget.prototype.showNotice = function (text) {
    this.notice.textContent = text;
    this.notice.hidden = false;
  };

  Widget.prototype.hideNotice = function () {
    this.notice.hidden = true;
    this.notice.textContent = "";
  };

  Widget.prototype.showConnectionState = function () {
    this.connectionState.textContent = TEXT.reconnecting;
    this.connectionState.hidden = false;
  };

  Widget.prototype.hideConnectionState = function () {
    this.connectionState.hidden = true;
    this.connectionState.textContent = "";
  };

  /* ------------------------------------------------------------------ */
  /* Boot                                                                */
  /* ------------------------------------------------------------------ */

  var script =
    doc.currentScript || doc.querySelector('script[src$="/widget/widget.js"]');

  function addStylesheet(scriptUrl) {
    var link = doc.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("widget.css", scriptUrl).href;
    doc.head.appendChild(link);
  }

  function transportsFrom(attribute) {
    var names = (attribute || "").split(",").map(function (name) {
      return name.trim();
    }).filter(function (name) {
      return name === "websocket" || name === "polling";
    });
    return names.length ? names : DEFAULT_TRANSPORTS;
  }

  function boot() {
    var scriptUrl = new URL(script.getAttribute("src"), doc.baseURI);
    addStylesheet(scriptUrl);
    root.__pomocnikWidget = new Widget({
      title: script.getAttribute("data-title") || "Pomocnik",
      apiBase: script.getAttribute("data-api-base") || scriptUrl.origin,
      transports: transportsFrom(script.getAttribute("data-transports")),
      store: createStore(),
      loadClient: socketClientLoader(new URL(SOCKET_CLIENT, scriptUrl).href),
    });
  }

  if (!script) return;
  root.__pomocnikWidget = true; // guard against the tag being included twice
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", boot);
  else boot();
})(typeof window !== "undefined" ? window : undefined);
