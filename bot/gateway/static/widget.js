/*
 * Pomocnik chat widget: vanilla JS, no build step, no external resources.
 *
 * Embed with one tag:
 *   <script src="https://<gateway>/widget/widget.js" defer data-title="Pomocnik"></script>
 * Optional: data-api-base="https://<gateway>" (defaults to the script's origin).
 *
 * The pure helpers at the top are exported under Node (module.exports) so they
 * can be tested without a browser; the DOM part only runs in a browser.
 */
(function (root) {
  "use strict";

  var STORAGE_KEY = "pomocnik.conversation";
  var MAX_LENGTH = 1000;
  var REQUEST_TIMEOUT_MS = 30000;

  var TEXT = {
    launcher: "Czat z Pomocnikiem",
    titleSuffix: " – asystent iKsięgowość24",
    close: "Zamknij czat",
    messages: "Wiadomości",
    inputLabel: "Twoja wiadomość",
    placeholder: "Napisz wiadomość…",
    send: "Wyślij",
    typing: "Pomocnik pisze…",
    botPrefix: "Pomocnik:",
    userPrefix: "Ty:",
    quickReplies: "Szybkie odpowiedzi",
    notSent: "Nie wysłano",
    newTab: " (otwiera się w nowej karcie)",
    image: "Zobacz obraz",
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

  var helpers = { escapeHtml: escapeHtml, toSafeHtml: toSafeHtml, formatTime: formatTime };

  if (typeof module === "object" && module.exports) {
    module.exports = helpers;
    return;
  }
  if (!root || !root.document || root.__pomocnikWidget) {
    return;
  }

  /* ------------------------------------------------------------------ */
  /* Storage and gateway access                                          */
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

  class UserFacingError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code || "";
    }
  }

  function GatewayClient(apiBase, store) {
    this.apiBase = apiBase.replace(/\/+$/, "");
    this.store = store;
  }

  GatewayClient.prototype.request = async function (path, body) {
    var controller = new AbortController();
    var timer = setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    var response;
    try {
      response = await fetch(this.apiBase + path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        signal: controller.signal,
      });
    } catch (e) {
      throw new UserFacingError(e && e.name === "AbortError" ? TEXT.timeoutError : TEXT.networkError);
    } finally {
      clearTimeout(timer);
    }
    var data = await response.json().catch(function () {
      return null;
    });
    if (response.ok && data) return data;
    var error = (data && data.error) || {};
    throw new UserFacingError(error.message || TEXT.genericError, error.code);
  };

  GatewayClient.prototype.conversationId = async function () {
    var id = this.store.get();
    if (id) return id;
    var data = await this.request("/api/v1/conversations");
    this.store.set(data.conversation_id);
    return data.conversation_id;
  };

  GatewayClient.prototype.send = async function (text) {
    var id = await this.conversationId();
    try {
      return await this.sendTo(id, text);
    } catch (e) {
      // A stale id (e.g. the server secret was rotated): start over once.
      if (e.code !== "conversation_not_found") throw e;
      this.store.set(null);
      return this.sendTo(await this.conversationId(), text);
    }
  };

  GatewayClient.prototype.sendTo = async function (id, text) {
    var path = "/api/v1/conversations/" + encodeURIComponent(id) + "/messages";
    var data = await this.request(path, { text: text });
    return Array.isArray(data.messages) ? data.messages : [];
  };

  /* ------------------------------------------------------------------ */
  /* DOM                                                                 */
  /* ------------------------------------------------------------------ */

  var doc = root.document;
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

  function timeElement() {
    var now = new Date();
    var time = el("time", "pomocnik-time", formatTime(now));
    time.setAttribute("datetime", now.toISOString());
    return time;
  }

  function Widget(options) {
    this.title = options.title;
    this.client = options.client;
    this.pending = false;
    this.greeted = false;
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

    this.notice = el("p", "pomocnik-notice");
    this.notice.setAttribute("role", "alert");
    this.notice.hidden = true;

    panel.appendChild(header);
    panel.appendChild(this.log);
    panel.appendChild(this.notice);
    panel.appendChild(this.buildForm());
    return panel;
  };

  Widget.prototype.buildForm = function () {
    var self = this;
    var form = el("form", "pomocnik-form");
    form.noValidate = true;
    var label = el("label", "pomocnik-sr-only", TEXT.inputLabel);
    label.htmlFor = "pomocnik-input";

    this.input = el("textarea", "pomocnik-input");
    this.input.id = "pomocnik-input";
    this.input.rows = 1;
    this.input.maxLength = MAX_LENGTH;
    this.input.placeholder = TEXT.placeholder;
    this.input.setAttribute("autocomplete", "off");
    this.input.addEventListener("keydown", function (event) {
      // Enter sends, Shift+Enter adds a line; never interrupt IME composition.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.submitInput();
      }
    });

    this.sendButton = el("button", "pomocnik-send", TEXT.send);
    this.sendButton.type = "submit";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submitInput();
    });

    form.appendChild(label);
    form.appendChild(this.input);
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
    var text = this.input.value.trim();
    if (!text || this.pending) return;
    this.input.value = "";
    var sent = await this.send(text, text);
    // Nothing typed is lost: put the text back unless the user already typed anew.
    if (!sent && !this.input.value) this.input.value = text;
    this.input.focus();
  };

  /** Send `text` to the bot, showing `shownText` as the user's message. */
  Widget.prototype.send = async function (text, shownText) {
    if (this.pending) return false;
    this.hideNotice();
    var message = this.addUserMessage(shownText);
    this.setPending(true);
    try {
      var replies = await this.client.send(text);
      this.setPending(false);
      replies.forEach(this.addBotMessage, this);
      return true;
    } catch (error) {
      this.setPending(false);
      message.classList.add("pomocnik-message--failed");
      message.appendChild(el("span", "pomocnik-failed", TEXT.notSent));
      this.showNotice(error instanceof UserFacingError ? error.message : TEXT.genericError);
      return false;
    }
  };

  Widget.prototype.setPending = function (pending) {
    this.pending = pending;
    this.sendButton.setAttribute("aria-disabled", pending ? "true" : "false");
    if (pending) this.log.appendChild(this.typing);
    else if (this.typing.parentNode) this.typing.parentNode.removeChild(this.typing);
    this.scrollToEnd();
  };

  Widget.prototype.addUserMessage = function (text) {
    var message = el("div", "pomocnik-message pomocnik-message--user");
    message.appendChild(srOnly(TEXT.userPrefix + " "));
    message.appendChild(el("div", "pomocnik-bubble", text)); // textContent: never parsed as HTML
    message.appendChild(timeElement());
    this.append(message);
    return message;
  };

  Widget.prototype.addBotMessage = function (reply) {
    var hasText = typeof reply.text === "string" && reply.text.trim() !== "";
    if (hasText || reply.image) {
      var message = el("div", "pomocnik-message pomocnik-message--bot");
      message.appendChild(srOnly(TEXT.botPrefix + " "));
      var bubble = el("div", "pomocnik-bubble");
      if (hasText) bubble.innerHTML = toSafeHtml(reply.text);
      if (reply.image) bubble.appendChild(this.imageLink(reply.image));
      message.appendChild(bubble);
      message.appendChild(timeElement());
      this.append(message);
    }
    if (Array.isArray(reply.buttons) && reply.buttons.length) {
      this.append(this.quickReplies(reply.buttons));
    }
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
    var sent = await this.send(button.payload || button.title, button.title);
    if (!sent) {
      setGroupDisabled(group, false);
      node.classList.remove("pomocnik-quick-reply--chosen");
    }
  };

  function setGroupDisabled(group, disabled) {
    Array.prototype.forEach.call(group.querySelectorAll("button"), function (button) {
      button.disabled = disabled;
    });
  }

  Widget.prototype.append = function (node) {
    // Keep the typing indicator as the last element while a reply is pending.
    if (this.typing.parentNode === this.log) this.log.insertBefore(node, this.typing);
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

  function boot() {
    var scriptUrl = new URL(script.getAttribute("src"), doc.baseURI);
    addStylesheet(scriptUrl);
    root.__pomocnikWidget = new Widget({
      title: script.getAttribute("data-title") || "Pomocnik",
      client: new GatewayClient(
        script.getAttribute("data-api-base") || scriptUrl.origin,
        createStore()
      ),
    });
  }

  if (!script) return;
  root.__pomocnikWidget = true; // guard against the tag being included twice
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", boot);
  else boot();
})(typeof window !== "undefined" ? window : undefined);
