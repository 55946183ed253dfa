/*
 * Pomocnik chat widget: vanilla JS, no build step, nothing loaded from other origins.
 *
 * Embed with one tag:
 *   <script src="https://<gateway>/widget/widget.js" defer data-title="Pomocnik"></script>
 * Optional: data-api-base="https://<gateway>" (defaults to the script's origin),
 * data-transports="websocket,polling" (socket.io transports, in the order tried) and, on pages
 * of signed-in users, data-session-token="<the token the platform issued at login>": it goes
 * to the gateway with every session_request (never into localStorage, never shown), and the
 * assistant then knows who the visitor is without asking for an e-mailed code.
 *
 * It talks to the gateway over socket.io with Rasa's channel protocol (session_request /
 * session_confirm, user_uttered / bot_uttered) plus the gateway's extra events
 * (pomocnik_history, pomocnik_message, pomocnik_status, pomocnik_queue, pomocnik_identity);
 * see bot/gateway/socket_channel.py. The gateway's own notices (author "system") drive the
 * handoff to an adviser: the queue (with "Anuluj oczekiwanie"), the adviser's name in the
 * header, and the forms it offers in the conversation (custom.offer "ticket" and "rating"),
 * which post to the gateway's JSON API.
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
    agentLabel: "Konsultant",
    agentTitleSuffix: " – konsultant",
    systemPrefix: "Informacja:",
    signedInAs: "Zalogowano jako ",
    rate: "Zakończ i oceń rozmowę",
    queueWaiting: "Czekasz na konsultanta.",
    queuePosition: "Czekasz na konsultanta – jesteś {n}. w kolejce.",
    queueCancel: "Anuluj oczekiwanie",
    ticketTitle: "Zostaw zgłoszenie",
    ticketIntro: "Podaj e-mail albo telefon (wystarczy jedno) i opisz, w czym pomóc.",
    ticketEmail: "E-mail",
    ticketPhone: "Telefon",
    ticketQuestion: "Twoje pytanie",
    ticketSubmit: "Wyślij zgłoszenie",
    ticketSent: "Wysłano zgłoszenie nr {number}.",
    ticketContactMissing: "Podaj adres e-mail albo numer telefonu, żebyśmy mogli odpowiedzieć.",
    ticketQuestionMissing: "Napisz, w czym możemy pomóc.",
    ratingTitle: "Oceń rozmowę",
    ratingLegend: "Jak oceniasz tę rozmowę?",
    ratingHint: "Wybierz od 1 do 5 gwiazdek.",
    ratingComment: "Komentarz (opcjonalnie)",
    ratingSubmit: "Wyślij ocenę",
    ratingLater: "Nie teraz",
    ratingMissing: "Wybierz ocenę od 1 do 5.",
    ratingThanks: "Dziękujemy za ocenę!",
    sending: "Wysyłam…",
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

  /* ---------- the gateway's notices (author "system") ---------- */

  var RATING_LABELS = ["1 – bardzo źle", "2 – źle", "3 – średnio", "4 – dobrze", "5 – bardzo dobrze"];
  var MAX_COMMENT = 1000;
  var MAX_QUESTION = 2000;

  function customOf(message) {
    return message && message.custom && typeof message.custom === "object" ? message.custom : {};
  }

  /** A notice's handoff state: "queued", "agent", "assistant", "closed", "unavailable" or null. */
  function handoffOf(message) {
    var handoff = customOf(message).handoff;
    return handoff && typeof handoff.state === "string" ? handoff : null;
  }

  /** What form a notice offers: "ticket", "rating" or null. */
  function offerOf(message) {
    var offer = customOf(message).offer;
    return offer === "ticket" || offer === "rating" ? offer : null;
  }

  /** The header title for a handoff state: the adviser's name while one holds the chat. */
  function headerTitle(defaultTitle, handoff) {
    if (!handoff || handoff.state !== "agent") return defaultTitle;
    var name = typeof handoff.agent === "string" ? handoff.agent.trim() : "";
    return name ? name + TEXT.agentTitleSuffix : TEXT.agentLabel;
  }

  function queueText(position) {
    return typeof position === "number" && position > 0
      ? TEXT.queuePosition.replace("{n}", String(position))
      : TEXT.queueWaiting;
  }

  /** Client-side checks of the ticket form, before anything is sent: {field: message}. */
  function ticketErrors(values) {
    var errors = {};
    if (!values.email && !values.phone) errors.email = TEXT.ticketContactMissing;
    if (!values.question) errors.question = TEXT.ticketQuestionMissing;
    return errors;
  }

  /** The ticket form's field a gateway error code belongs to (null: the whole form). */
  function ticketFieldFor(code) {
    if (code === "ticket_email_invalid" || code === "ticket_contact_missing") return "email";
    if (code === "ticket_phone_invalid") return "phone";
    if (code === "ticket_question_missing" || code === "ticket_question_too_long") {
      return "question";
    }
    return null;
  }

  /** The Polish message of a gateway JSON error ({"error": {"code", "message"}}). */
  function errorMessage(response) {
    if (!response || !response.status) return TEXT.networkError;
    var error = response.data && response.data.error;
    return (error && typeof error.message === "string" && error.message) || TEXT.genericError;
  }

  var helpers = {
    escapeHtml: escapeHtml,
    toSafeHtml: toSafeHtml,
    formatTime: formatTime,
    asksForSecret: asksForSecret,
    visitorText: visitorText,
    newClientId: newClientId,
    handoffOf: handoffOf,
    offerOf: offerOf,
    headerTitle: headerTitle,
    queueText: queueText,
    ticketErrors: ticketErrors,
    ticketFieldFor: ticketFieldFor,
    errorMessage: errorMessage,
    RATING_LABELS: RATING_LABELS,
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
    this.sessionToken = options.sessionToken || null; // kept in memory only
    // onHistory, onMessage, onStatus, onQueue, onIdentity, onOnline, onOffline, historyAfter
    this.events = options.events;
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
      var request = { session_id: self.store.get(), history_after: self.events.historyAfter() };
      // Sent on every (re)connect: the gateway keeps the sign-in with the connection only.
      if (self.sessionToken) request.session_token = self.sessionToken;
      socket.emit("session_request", request);
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
    socket.on("pomocnik_queue", function (data) {
      if (data && typeof data.position === "number") self.events.onQueue(data.position);
    });
    socket.on("pomocnik_identity", function (data) {
      self.events.onIdentity(data && typeof data === "object" ? data : {});
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

  /**
   * POST a JSON body to the gateway's API; resolves {status, data} (status 0: no answer).
   * Conversation ids are bearer tokens in the path, so no cookies are sent.
   */
  function postJson(url, body) {
    return root
      .fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body || {}),
        credentials: "omit",
      })
      .then(
        function (response) {
          return response.json().then(
            function (data) {
              return { status: response.status, data: data };
            },
            function () {
              return { status: response.status, data: null };
            }
          );
        },
        function () {
          return { status: 0, data: null };
        }
      );
  }

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

  function within(node, ancestor) {
    for (; node; node = node.parentNode) if (node === ancestor) return true;
    return false;
  }

  function detach(node) {
    if (node && node.parentNode) node.parentNode.removeChild(node);
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
    this.defaultHeading = options.title + TEXT.titleSuffix;
    this.store = options.store;
    this.apiBase = options.apiBase.replace(/\/+$/, "");
    this.sessionToken = options.sessionToken || null;
    this.replaying = false; // rendering history: no focus moves
    this.handoff = { state: "assistant", seq: 0 }; // the latest handoff notice's state
    this.cards = { ticket: null, rating: null }; // the forms shown in the conversation
    this.ticketSeq = 0; // the newest notice confirming a ticket
    this.rated = false; // the conversation can be rated once
    this.cardCount = 0;
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
      sessionToken: this.sessionToken,
      events: {
        historyAfter: this.historyAfter.bind(this),
        onHistory: this.onHistory.bind(this),
        onMessage: this.render.bind(this),
        onStatus: this.onStatus.bind(this),
        onQueue: this.onQueue.bind(this),
        onIdentity: this.onIdentity.bind(this),
        onOnline: this.onOnline.bind(this),
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
    var headerRow = el("div", "pomocnik-header-row");
    this.heading = el("h2", "pomocnik-title", heading);
    headerRow.appendChild(this.heading);
    var closeButton = el("button", "pomocnik-close");
    closeButton.type = "button";
    closeButton.setAttribute("aria-label", TEXT.close);
    closeButton.appendChild(el("span", "", "×")).setAttribute("aria-hidden", "true");
    closeButton.addEventListener("click", function () {
      self.close();
    });
    headerRow.appendChild(closeButton);
    header.appendChild(headerRow);

    // Who is signed in, and rating the conversation (shown once there is one).
    this.headerBar = el("div", "pomocnik-header-bar");
    this.headerBar.hidden = true;
    this.identity = el("p", "pomocnik-identity");
    this.identity.hidden = true;
    this.rateButton = el("button", "pomocnik-rate", TEXT.rate);
    this.rateButton.type = "button";
    this.rateButton.hidden = true;
    this.rateButton.addEventListener("click", function () {
      self.openRating();
    });
    this.headerBar.appendChild(this.identity);
    this.headerBar.appendChild(this.rateButton);
    header.appendChild(this.headerBar);

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

    // While the visitor waits for an adviser: the place in the queue, and a way out.
    this.queue = el("div", "pomocnik-queue");
    this.queue.hidden = true;
    this.queueText = el("p", "pomocnik-queue-text");
    this.queueText.setAttribute("role", "status");
    this.queueCancel = el("button", "pomocnik-queue-cancel", TEXT.queueCancel);
    this.queueCancel.type = "button";
    this.queueCancel.addEventListener("click", function () {
      self.cancelQueue();
    });
    this.queue.appendChild(this.queueText);
    this.queue.appendChild(this.queueCancel);

    panel.appendChild(header);
    panel.appendChild(this.log);
    panel.appendChild(this.queue);
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
      // A stored conversation: connect now to show its history; a signed-in visitor: to say
      // who they are signed in as. Otherwise a new conversation starts on the first send.
      if (this.store.get() || this.sessionToken) this.connection.open();
      this.updateHeaderBar();
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
    // A form the answer brought (ticket, rating) keeps the focus it took.
    if (!this.focusInCard()) this.input.focus();
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
    this.replaying = true;
    try {
      messages.forEach(this.render, this);
    } finally {
      this.replaying = false;
      this.log.setAttribute("aria-busy", "false");
    }
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
      } else if (message.author === "system") {
        node = this.addSystemMessage(message, seq);
      } else {
        node = this.addBotMessage(message, seq);
      }
      this.bySeq[seq] = node;
      if (message.author === "system") this.applyNotice(message);
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

  /** A bot (or adviser) message; returns its element. */
  Widget.prototype.addBotMessage = function (reply, seq) {
    var hasText = typeof reply.text === "string" && reply.text.trim() !== "";
    var message = el("div", "pomocnik-message pomocnik-message--bot");
    if (seq !== undefined) message.setAttribute("data-seq", String(seq));
    if (hasText || reply.image) {
      if (reply.author === "agent") {
        // An adviser's message says who wrote it, visibly: "Konsultant Anna".
        message.classList.add("pomocnik-message--agent");
        var name = typeof reply.agent === "string" ? reply.agent.trim() : "";
        var author = el("span", "pomocnik-author", TEXT.agentLabel + (name ? " " + name : ""));
        message.appendChild(author);
        message.appendChild(srOnly(": "));
      } else {
        message.appendChild(srOnly(TEXT.botPrefix + " "));
      }
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

  /* ---------- the gateway's notices: handoff, queue, identity ---------- */

  var NOTICE_CLASSES = {
    queued: "pomocnik-message--queued",
    agent: "pomocnik-message--joined",
    assistant: "pomocnik-message--returned",
    closed: "pomocnik-message--returned",
    unavailable: "pomocnik-message--unavailable",
  };

  /** A notice of the gateway (adviser joined, back to the assistant…): not a chat bubble. */
  Widget.prototype.addSystemMessage = function (notice, seq) {
    var message = el("div", "pomocnik-message pomocnik-message--system");
    var handoff = handoffOf(notice);
    var custom = notice.custom || {};
    if (handoff && NOTICE_CLASSES[handoff.state]) {
      message.classList.add(NOTICE_CLASSES[handoff.state]);
    } else if (custom.ticket || custom.rating) {
      message.classList.add("pomocnik-message--confirmed");
    }
    if (seq !== undefined) message.setAttribute("data-seq", String(seq));
    if (typeof notice.text === "string" && notice.text.trim() !== "") {
      message.appendChild(srOnly(TEXT.systemPrefix + " "));
      var text = el("div", "pomocnik-system-text");
      text.innerHTML = toSafeHtml(notice.text);
      message.appendChild(text);
      message.appendChild(timeElement(notice.at));
    } else {
      message.hidden = true;
    }
    this.insert(message, seq);
    return message;
  };

  /** What a new notice changes: the header, the queue, the forms offered or used up. */
  Widget.prototype.applyNotice = function (notice) {
    var custom = notice.custom || {};
    var seq = notice.seq;
    if (custom.ticket) {
      if (seq > this.ticketSeq) this.ticketSeq = seq;
      var ticket = this.cards.ticket;
      if (ticket && (ticket.seq === undefined || ticket.seq < seq)) this.removeCard(ticket);
    }
    if (custom.rating) {
      this.rated = true;
      if (this.cards.rating) this.removeCard(this.cards.rating);
      this.updateHeaderBar();
    }
    var handoff = handoffOf(notice);
    if (handoff && seq >= this.handoff.seq) this.setHandoff(handoff, seq);
    var offer = offerOf(notice);
    if (offer === "ticket" && seq > this.ticketSeq) this.offerTicket(seq);
    if (offer === "rating" && !this.rated) this.offerRating(seq);
  };

  Widget.prototype.setHandoff = function (handoff, seq) {
    this.handoff = { state: handoff.state, seq: seq, agent: handoff.agent };
    this.heading.textContent = headerTitle(this.defaultHeading, handoff);
    if (handoff.state === "queued") this.showQueue(handoff.position);
    else this.hideQueue();
  };

  Widget.prototype.showQueue = function (position) {
    this.queueText.textContent = queueText(position);
    this.queue.hidden = false;
  };

  Widget.prototype.hideQueue = function () {
    if (this.queue.hidden) return;
    var hadFocus = within(doc.activeElement, this.queue);
    this.queue.hidden = true;
    this.queueText.textContent = "";
    if (hadFocus) this.input.focus();
  };

  /** pomocnik_queue: the visitor moved up in the queue. */
  Widget.prototype.onQueue = function (position) {
    if (this.handoff.state === "queued") this.showQueue(position);
  };

  Widget.prototype.cancelQueue = function () {
    var self = this;
    if (this.queueBusy) return Promise.resolve();
    // aria-disabled, not disabled: the button keeps the focus while the request runs.
    this.queueBusy = true;
    this.queueCancel.setAttribute("aria-disabled", "true");
    this.hideNotice();
    return this.api("/handoff/cancel", {}).then(function (response) {
      self.queueBusy = false;
      self.queueCancel.removeAttribute("aria-disabled");
      if (response.status === 200 || response.status === 409) {
        // 409 not_in_queue: an adviser took it or it was cancelled already; either way the
        // visitor no longer waits (the notice saying what happened arrives on its own).
        if (self.handoff.state === "queued") self.handoff.state = "assistant";
        self.hideQueue();
        if (response.status === 409) self.showNotice(errorMessage(response));
        self.input.focus();
      } else {
        self.showNotice(errorMessage(response));
      }
    });
  };

  /** pomocnik_identity: the page's sign-in, as the gateway verified it. */
  Widget.prototype.onIdentity = function (identity) {
    var name = identity.verified === true && typeof identity.name === "string"
      ? identity.name.trim()
      : "";
    this.identity.textContent = name ? TEXT.signedInAs + name : "";
    this.identity.hidden = !name;
    this.updateHeaderBar();
    this.scrollToEnd(); // the header grew or shrank
  };

  Widget.prototype.onOnline = function () {
    this.hideConnectionState();
    this.updateHeaderBar();
  };

  Widget.prototype.updateHeaderBar = function () {
    // Rating needs a conversation, and a conversation is rated once.
    this.rateButton.hidden = this.rated || !this.store.get();
    this.headerBar.hidden = this.identity.hidden && this.rateButton.hidden;
  };

  /** POST to this conversation's API (…/conversations/<id><path>); resolves {status, data}. */
  Widget.prototype.api = function (path, body) {
    var id = this.store.get();
    if (!id) return Promise.resolve({ status: 0, data: null });
    var url = this.apiBase + "/api/v1/conversations/" + encodeURIComponent(id) + path;
    return postJson(url, body);
  };

  /* ---------- forms in the conversation ("cards"): ticket and rating ---------- */

  Widget.prototype.focusInCard = function () {
    var active = doc.activeElement;
    return !!(
      (this.cards.ticket && within(active, this.cards.ticket.form)) ||
      (this.cards.rating && within(active, this.cards.rating.form))
    );
  };

  /** A new form takes the focus when it arrives live while the visitor is in the chat. */
  Widget.prototype.mayTakeFocus = function () {
    if (this.replaying || this.panel.hidden) return false;
    var active = doc.activeElement;
    return !active || active === doc.body || within(active, this.root);
  };

  Widget.prototype.newCard = function (kind, seq, title) {
    var prefix = "pomocnik-" + kind + "-" + ++this.cardCount;
    var form = el("form", "pomocnik-card pomocnik-card--" + kind);
    form.noValidate = true;
    form.setAttribute("aria-labelledby", prefix + "-title");
    if (seq !== undefined) form.setAttribute("data-seq", String(seq));
    var heading = el("h3", "pomocnik-card-title", title);
    heading.id = prefix + "-title";
    form.appendChild(heading);
    var card = { kind: kind, seq: seq, form: form, prefix: prefix, fields: {}, busy: false };
    card.error = el("p", "pomocnik-card-error");
    card.error.setAttribute("role", "alert");
    card.error.hidden = true;
    return card;
  };

  /** A labelled field with its own error line (aria-describedby, aria-invalid). */
  Widget.prototype.field = function (card, name, label, control, hint) {
    var id = card.prefix + "-" + name;
    var wrapper = el("div", "pomocnik-field");
    var labelNode = el("label", "pomocnik-field-label", label);
    labelNode.htmlFor = id;
    control.id = id;
    control.name = name;
    control.classList.add("pomocnik-field-input");
    var error = el("p", "pomocnik-field-error");
    error.id = id + "-error";
    error.hidden = true;
    var describedBy = [error.id];
    wrapper.appendChild(labelNode);
    if (hint) {
      var hintNode = el("p", "pomocnik-field-hint", hint);
      hintNode.id = id + "-hint";
      describedBy.unshift(hintNode.id);
      wrapper.appendChild(hintNode);
    }
    control.setAttribute("aria-describedby", describedBy.join(" "));
    wrapper.appendChild(control);
    wrapper.appendChild(error);
    card.fields[name] = { control: control, error: error };
    return wrapper;
  };

  function setFieldError(card, name, message) {
    var field = card.fields[name];
    field.error.textContent = message || "";
    field.error.hidden = !message;
    if (message) field.control.setAttribute("aria-invalid", "true");
    else field.control.removeAttribute("aria-invalid");
  }

  function clearErrors(card) {
    Object.keys(card.fields).forEach(function (name) {
      setFieldError(card, name, "");
    });
    card.error.textContent = "";
    card.error.hidden = true;
  }

  function setCardError(card, message) {
    card.error.textContent = message;
    card.error.hidden = false;
  }

  function setBusy(card, busy) {
    card.busy = busy;
    card.submit.setAttribute("aria-disabled", busy ? "true" : "false");
    card.submit.textContent = busy ? TEXT.sending : card.submitText;
  }

  Widget.prototype.submitButton = function (card, text) {
    card.submitText = text;
    card.submit = el("button", "pomocnik-card-submit", text);
    card.submit.type = "submit";
    return card.submit;
  };

  Widget.prototype.showCard = function (card, focusTarget) {
    var previous = this.cards[card.kind];
    var takeFocus = this.mayTakeFocus() || (previous && within(doc.activeElement, previous.form));
    if (previous) this.removeCard(previous, true);
    this.cards[card.kind] = card;
    this.insert(card.form, card.seq);
    if (takeFocus) focusTarget.focus();
  };

  Widget.prototype.removeCard = function (card, keepFocus) {
    var hadFocus = within(doc.activeElement, card.form);
    detach(card.form);
    card.removed = true;
    if (this.cards[card.kind] === card) this.cards[card.kind] = null;
    if (hadFocus && !keepFocus) this.input.focus();
  };

  /** The form was sent: it shrinks to one line (until the gateway's notice replaces it). */
  Widget.prototype.completeCard = function (card, text) {
    if (card.removed) return; // the gateway's notice came first and replaced it
    var hadFocus = within(doc.activeElement, card.form);
    card.done = true;
    card.form.textContent = "";
    card.form.classList.add("pomocnik-card--done");
    card.form.appendChild(el("p", "pomocnik-card-done", text));
    if (hadFocus) this.input.focus();
  };

  /* ---------- the ticket ---------- */

  Widget.prototype.offerTicket = function (seq) {
    var self = this;
    var card = this.newCard("ticket", seq, TEXT.ticketTitle);
    var intro = el("p", "pomocnik-card-intro", TEXT.ticketIntro);
    card.form.appendChild(intro);

    var email = el("input");
    email.type = "email";
    email.maxLength = 320;
    email.setAttribute("autocomplete", "email");
    email.setAttribute("inputmode", "email");
    email.setAttribute("spellcheck", "false");
    var phone = el("input");
    phone.type = "tel";
    phone.maxLength = 30;
    phone.setAttribute("autocomplete", "tel");
    phone.setAttribute("inputmode", "tel");
    var question = el("textarea");
    question.rows = 3;
    question.maxLength = MAX_QUESTION;
    question.required = true;
    question.setAttribute("aria-required", "true");

    card.form.appendChild(this.field(card, "email", TEXT.ticketEmail, email));
    card.form.appendChild(this.field(card, "phone", TEXT.ticketPhone, phone));
    card.form.appendChild(this.field(card, "question", TEXT.ticketQuestion, question));
    card.form.appendChild(card.error);
    var actions = el("div", "pomocnik-card-actions");
    actions.appendChild(this.submitButton(card, TEXT.ticketSubmit));
    card.form.appendChild(actions);
    card.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submitTicket(card);
    });
    this.showCard(card, email);
    return card;
  };

  Widget.prototype.submitTicket = function (card) {
    var self = this;
    if (card.busy || card.done || card.removed) return Promise.resolve();
    clearErrors(card);
    var values = {};
    ["email", "phone", "question"].forEach(function (name) {
      values[name] = card.fields[name].control.value.trim();
    });
    var errors = ticketErrors(values);
    var invalid = ["email", "phone", "question"].filter(function (name) {
      return errors[name];
    });
    if (invalid.length) {
      invalid.forEach(function (name) {
        setFieldError(card, name, errors[name]);
      });
      card.fields[invalid[0]].control.focus();
      return Promise.resolve();
    }
    var body = { question: values.question };
    if (values.email) body.email = values.email;
    if (values.phone) body.phone = values.phone;
    setBusy(card, true);
    return this.api("/tickets", body).then(function (response) {
      setBusy(card, false);
      var ticket = response.data && response.data.ticket;
      if (response.status === 201 && ticket) {
        self.completeCard(card, TEXT.ticketSent.replace("{number}", ticket.number));
        return;
      }
      if (card.removed) return;
      // What was typed stays; the message shows next to the field it is about.
      var error = response.data && response.data.error;
      var name = ticketFieldFor(error && error.code);
      if (name) {
        setFieldError(card, name, errorMessage(response));
        card.fields[name].control.focus();
      } else {
        setCardError(card, errorMessage(response));
      }
    });
  };

  /* ---------- the rating ---------- */

  /** "Zakończ i oceń rozmowę" in the header: the rating form at the end of the chat. */
  Widget.prototype.openRating = function () {
    if (this.rated) return;
    var card = this.cards.rating;
    if (card && !card.done) {
      card.radios[0].focus();
      return;
    }
    card = this.buildRating(undefined);
    this.showCard(card, card.radios[0]);
    card.radios[0].focus();
  };

  /** An adviser closed the conversation: the gateway's notice asks for a rating. */
  Widget.prototype.offerRating = function (seq) {
    var current = this.cards.rating;
    if (current && !current.done) return; // already being filled in
    var card = this.buildRating(seq);
    this.showCard(card, card.radios[0]);
  };

  Widget.prototype.buildRating = function (seq) {
    var self = this;
    var card = this.newCard("rating", seq, TEXT.ratingTitle);
    var fieldset = el("fieldset", "pomocnik-stars");
    fieldset.appendChild(el("legend", "pomocnik-stars-legend", TEXT.ratingLegend));
    var row = el("div", "pomocnik-stars-row");
    var caption = el("p", "pomocnik-stars-caption", TEXT.ratingHint);
    caption.setAttribute("aria-hidden", "true"); // each radio's label says it already
    var error = el("p", "pomocnik-field-error");
    error.id = card.prefix + "-score-error";
    error.hidden = true;
    card.radios = [];
    card.stars = [];
    card.caption = caption;
    RATING_LABELS.forEach(function (text, index) {
      var value = index + 1;
      var option = el("span", "pomocnik-star-option");
      var radio = el("input", "pomocnik-star-input");
      radio.type = "radio";
      radio.name = card.prefix + "-score";
      radio.value = String(value);
      radio.id = card.prefix + "-score-" + value;
      radio.setAttribute("aria-describedby", error.id);
      var label = el("label", "pomocnik-star");
      label.htmlFor = radio.id;
      var glyph = el("span", "pomocnik-star-glyph", "★");
      glyph.setAttribute("aria-hidden", "true");
      label.appendChild(glyph);
      label.appendChild(srOnly(text));
      radio.addEventListener("change", function () {
        self.showScore(card, value);
      });
      radio.addEventListener("mouseenter", function () {
        self.showScore(card, value, true);
      });
      radio.addEventListener("mouseleave", function () {
        self.showScore(card, card.score || 0);
      });
      option.appendChild(radio);
      option.appendChild(label);
      row.appendChild(option);
      card.radios.push(radio);
      card.stars.push(label);
    });
    fieldset.appendChild(row);
    fieldset.appendChild(caption);
    fieldset.appendChild(error);
    card.fields.score = { control: card.radios[0], error: error };
    card.form.appendChild(fieldset);

    var comment = el("textarea");
    comment.rows = 2;
    comment.maxLength = MAX_COMMENT;
    card.form.appendChild(this.field(card, "comment", TEXT.ratingComment, comment));
    card.form.appendChild(card.error);

    var actions = el("div", "pomocnik-card-actions");
    actions.appendChild(this.submitButton(card, TEXT.ratingSubmit));
    var later = el("button", "pomocnik-card-secondary", TEXT.ratingLater);
    later.type = "button";
    later.addEventListener("click", function () {
      self.removeCard(card);
    });
    actions.appendChild(later);
    card.form.appendChild(actions);
    card.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submitRating(card);
    });
    return card;
  };

  /** Light the stars up to `value`; `preview` (hover) does not change the choice. */
  Widget.prototype.showScore = function (card, value, preview) {
    if (!preview) {
      card.score = value;
      if (value) setFieldError(card, "score", "");
    }
    card.stars.forEach(function (star, index) {
      if (index < value) star.classList.add("pomocnik-star--on");
      else star.classList.remove("pomocnik-star--on");
    });
    card.caption.textContent = value ? RATING_LABELS[value - 1] : TEXT.ratingHint;
  };

  Widget.prototype.submitRating = function (card) {
    var self = this;
    if (card.busy || card.done || card.removed) return Promise.resolve();
    clearErrors(card);
    var score = 0;
    card.radios.forEach(function (radio) {
      if (radio.checked) score = Number(radio.value);
    });
    if (!score) {
      setFieldError(card, "score", TEXT.ratingMissing);
      card.radios[0].focus();
      return Promise.resolve();
    }
    var body = { score: score };
    var comment = card.fields.comment.control.value.trim();
    if (comment) body.comment = comment;
    setBusy(card, true);
    return this.api("/rating", body).then(function (response) {
      setBusy(card, false);
      if (response.status === 201 || response.status === 409) {
        // 409 already_rated: another tab was quicker; say so and stop offering it.
        self.rated = true;
        self.updateHeaderBar();
        self.completeCard(card, response.status === 201 ? TEXT.ratingThanks : errorMessage(response));
        return;
      }
      if (!card.removed) setCardError(card, errorMessage(response));
    });
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
      sessionToken: script.getAttribute("data-session-token") || null,
      store: createStore(),
      loadClient: socketClientLoader(new URL(SOCKET_CLIENT, scriptUrl).href),
    });
  }

  if (!script) return;
  root.__pomocnikWidget = true; // guard against the tag being included twice
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", boot);
  else boot();
})(typeof window !== "undefined" ? window : undefined);
