// Runs the real widget.js against the real gateway, with a minimal stand-in for
// the browser's DOM (only what the widget uses). The socket.io client the widget
// loads is the vendored one, fetched from the gateway and run in the same context,
// over the WebSocket of Node (run with --experimental-websocket on Node 20).
// Prints observations as JSON; the pytest side makes the assertions.
//
//   node widget_harness.js <widget.js path> <gateway url> <scenario> [stored conversation id]
//
// WIDGET_SESSION_TOKEN in the environment puts data-session-token on the script tag (a page
// of a signed-in user).
"use strict";

const fs = require("fs");
const vm = require("vm");

const [widgetPath, gatewayUrl, scenario, storedId] = process.argv.slice(2);

/* ----------------------------- DOM stand-in ----------------------------- */

class TextNode {
  constructor(text) {
    this.data = text;
    this.parentNode = null;
  }
  get textContent() {
    return this.data;
  }
}

class Element {
  constructor(tagName) {
    this.tagName = tagName.toUpperCase();
    this.childNodes = [];
    this.parentNode = null;
    this.attributes = {};
    this.listeners = {};
    this.className = "";
    this.hidden = false;
    this.disabled = false;
    this.checked = false;
    this.value = "";
    this.scrollTop = 0;
    this._html = null;
  }
  get classList() {
    const names = () => new Set(this.className.split(/\s+/).filter(Boolean));
    return {
      add: (name) => (this.className = [...names().add(name)].join(" ")),
      remove: (name) => {
        const set = names();
        set.delete(name);
        this.className = [...set].join(" ");
      },
      contains: (name) => names().has(name),
    };
  }
  get children() {
    return this.childNodes.filter((node) => node instanceof Element);
  }
  get scrollHeight() {
    return 1000;
  }
  get textContent() {
    if (this._html !== null) return this._html.replace(/<[^>]*>/g, "");
    return this.childNodes.map((node) => node.textContent).join("");
  }
  set textContent(text) {
    this.childNodes = [];
    this._html = null;
    if (text) this.appendChild(new TextNode(String(text)));
  }
  get innerHTML() {
    return this._html !== null ? this._html : this.textContent;
  }
  set innerHTML(html) {
    this.childNodes = [];
    this._html = html;
  }
  appendChild(child) {
    if (child.parentNode) child.parentNode.removeChild(child);
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }
  insertBefore(child, reference) {
    if (child.parentNode) child.parentNode.removeChild(child);
    child.parentNode = this;
    this.childNodes.splice(this.childNodes.indexOf(reference), 0, child);
    return child;
  }
  removeChild(child) {
    this.childNodes.splice(this.childNodes.indexOf(child), 1);
    child.parentNode = null;
    return child;
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return name in this.attributes ? this.attributes[name] : null;
  }
  removeAttribute(name) {
    delete this.attributes[name];
  }
  addEventListener(type, listener) {
    (this.listeners[type] = this.listeners[type] || []).push(listener);
  }
  dispatch(type, props = {}) {
    const event = {
      type,
      target: this,
      defaultPrevented: false,
      preventDefault() {
        this.defaultPrevented = true;
      },
      ...props,
    };
    for (let node = this; node; node = node.parentNode) {
      for (const listener of (node.listeners && node.listeners[type]) || []) listener(event);
    }
    return event;
  }
  click() {
    if (this.disabled) return;
    const event = this.dispatch("click");
    if (this.tagName === "BUTTON" && this.type === "submit" && !event.defaultPrevented) {
      this.closest("FORM").dispatch("submit");
    }
  }
  querySelector(tagName) {
    return this.querySelectorAll(tagName)[0] || null;
  }
  closest(tagName) {
    let node = this;
    while (node && node.tagName !== tagName) node = node.parentNode;
    return node;
  }
  focus() {
    document.activeElement = this;
  }
  querySelectorAll(tagName) {
    return this.descendants().filter((node) => node.tagName === tagName.toUpperCase());
  }
  descendants() {
    return this.children.flatMap((child) => [child, ...child.descendants()]);
  }
  byClass(name) {
    return this.descendants().filter((node) => node.classList.contains(name));
  }
}

const storage = new Map(storedId ? [["pomocnik.conversation", storedId]] : []);
const script = new Element("script");
script.setAttribute("src", "/widget/widget.js");
script.setAttribute("data-title", "Pomocnik");
script.setAttribute("data-transports", "websocket");
if (process.env.WIDGET_SESSION_TOKEN) {
  script.setAttribute("data-session-token", process.env.WIDGET_SESSION_TOKEN);
}
const loadedScripts = [];

// <head>: a <script src> appended to it is fetched from the gateway and run, like a browser.
class Head extends Element {
  appendChild(child) {
    super.appendChild(child);
    if (child.tagName === "SCRIPT" && child.src) {
      loadedScripts.push(child.src);
      fetch(child.src)
        .then((response) => {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then((code) => {
          vm.runInContext(code, context, { filename: child.src });
          child.dispatch("load");
        })
        .catch(() => child.dispatch("error"));
    }
    return child;
  }
}

const document = {
  head: new Head("head"),
  body: new Element("body"),
  activeElement: null,
  currentScript: script,
  readyState: "complete",
  baseURI: gatewayUrl + "/",
  createElement: (tag) => new Element(tag),
  createElementNS: (ns, tag) => new Element(tag),
  querySelector: () => script,
  addEventListener: () => {},
};

const window = {
  document,
  fetch,
  URL,
  AbortController,
  WebSocket,
  TextEncoder,
  TextDecoder,
  crypto: globalThis.crypto,
  setTimeout,
  clearTimeout,
  setInterval,
  clearInterval,
  queueMicrotask,
  localStorage: {
    getItem: (key) => (storage.has(key) ? storage.get(key) : null),
    setItem: (key, value) => storage.set(key, String(value)),
    removeItem: (key) => storage.delete(key),
  },
};
window.window = window;
let context = null;

/* ----------------------------- helpers ----------------------------- */

async function waitFor(condition, what) {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("timed out waiting for " + what);
}

function snapshot(widget) {
  const log = widget.log;
  return {
    panelHidden: widget.panel.hidden,
    expanded: widget.launcher.getAttribute("aria-expanded"),
    focus: document.activeElement === widget.input ? "input"
      : document.activeElement === widget.launcher ? "launcher" : "other",
    botBubbles: log.byClass("pomocnik-message--bot").filter((m) => !m.hidden)
      .map((m) => m.byClass("pomocnik-bubble")[0].innerHTML),
    userBubbles: log.byClass("pomocnik-message--user").map((m) => m.byClass("pomocnik-bubble")[0].textContent),
    seqs: log.children.map((node) => node.getAttribute("data-seq")).filter((seq) => seq !== null).map(Number),
    secretMode: widget.secretMode,
    input: {
      id: widget.input.id,
      type: widget.input.type || "textarea",
      labelFor: widget.label.htmlFor,
      label: widget.label.textContent,
      textHidden: widget.textInput.hidden,
      secretHidden: widget.secretInput.hidden,
    },
    connectionState: widget.connectionState.hidden ? null : widget.connectionState.textContent,
    failedMessages: log.byClass("pomocnik-message--failed").length,
    times: log.querySelectorAll("time").map((t) => t.textContent),
    quickReplyGroups: log.byClass("pomocnik-quick-replies").map((group) =>
      group.querySelectorAll("button").map((b) => ({ title: b.textContent, disabled: b.disabled }))
    ),
    typingShown: widget.typing.parentNode === log,
    noticeHidden: widget.notice.hidden,
    notice: widget.notice.textContent,
    inputValue: widget.input.value,
    stored: storage.get("pomocnik.conversation") || null,
    heading: widget.heading.textContent,
    notices: log.byClass("pomocnik-message--system").filter((m) => !m.hidden).map((m) => ({
      kind: m.className.split(" ").filter((c) => c !== "pomocnik-message" && c !== "pomocnik-message--system"),
      text: m.byClass("pomocnik-system-text")[0].textContent,
      html: m.byClass("pomocnik-system-text")[0].innerHTML,
      srPrefix: m.byClass("pomocnik-sr-only")[0].textContent,
      seq: Number(m.getAttribute("data-seq")),
    })),
    agentMessages: log.byClass("pomocnik-message--agent").map((m) => ({
      author: m.byClass("pomocnik-author")[0].textContent,
      text: m.byClass("pomocnik-bubble")[0].textContent,
    })),
    queue: widget.queue.hidden ? null : {
      text: widget.queueText.textContent,
      role: widget.queueText.getAttribute("role"),
      button: widget.queueCancel.textContent,
    },
    headerBar: widget.headerBar.hidden ? null : {
      identity: widget.identity.hidden ? null : widget.identity.textContent,
      rate: widget.rateButton.hidden ? null : widget.rateButton.textContent,
    },
    cards: log.byClass("pomocnik-card").map(cardSnapshot),
    focused: describeFocus(widget),
  };
}

function cardSnapshot(form) {
  return {
    kind: form.className.includes("pomocnik-card--ticket") ? "ticket" : "rating",
    done: form.className.includes("pomocnik-card--done"),
    seq: form.getAttribute("data-seq") === null ? null : Number(form.getAttribute("data-seq")),
    title: (form.querySelector("h3") || { textContent: null }).textContent,
    labelledBy: form.getAttribute("aria-labelledby"),
    titleId: (form.querySelector("h3") || {}).id || null,
    text: form.className.includes("pomocnik-card--done") ? form.textContent : null,
    legend: (form.querySelector("legend") || { textContent: null }).textContent,
    fields: form.querySelectorAll("label").filter((l) => !l.className.includes("pomocnik-star")).map((label) => {
      const control = form.descendants().find((n) => n.id === label.htmlFor);
      const error = control && form.descendants().find((n) => n.id === control.id + "-error");
      return {
        label: label.textContent,
        tag: control ? control.tagName.toLowerCase() : null,
        type: control ? control.type || null : null,
        value: control ? control.value : null,
        maxLength: control ? control.maxLength : null,
        invalid: control ? control.getAttribute("aria-invalid") : null,
        describedBy: control ? control.getAttribute("aria-describedby") : null,
        error: error && !error.hidden ? error.textContent : null,
      };
    }),
    radios: form.querySelectorAll("input").filter((i) => i.type === "radio").map((radio) => {
      const label = form.descendants().find((n) => n.tagName === "LABEL" && n.htmlFor === radio.id);
      return { value: radio.value, name: radio.name, label: label.textContent.replace("★", ""), on: label.className.includes("pomocnik-star--on") };
    }),
    scoreError: (() => {
      const error = form.byClass("pomocnik-field-error").find((n) => n.id.endsWith("-score-error"));
      return error && !error.hidden ? error.textContent : null;
    })(),
    caption: (form.byClass("pomocnik-stars-caption")[0] || { textContent: null }).textContent,
    formError: (() => {
      const error = form.byClass("pomocnik-card-error")[0];
      return error && !error.hidden ? error.textContent : null;
    })(),
    buttons: form.querySelectorAll("button").map((b) => ({ text: b.textContent, type: b.type })),
  };
}

function describeFocus(widget) {
  const active = document.activeElement;
  if (!active) return null;
  if (active === widget.input) return "input";
  if (active === widget.launcher) return "launcher";
  if (active === widget.rateButton) return "rate";
  if (active === widget.queueCancel) return "queueCancel";
  return active.id || active.tagName.toLowerCase();
}

function card(widget, kind) {
  return widget.log.byClass("pomocnik-card--" + kind)[0];
}

function control(widget, kind, name) {
  const form = card(widget, kind);
  return form.descendants().find((n) => n.name === name);
}

function fill(widget, kind, values) {
  for (const [name, value] of Object.entries(values)) control(widget, kind, name).value = value;
}

function submitCard(widget, kind) {
  card(widget, kind).querySelectorAll("button").find((b) => b.type === "submit").click();
}

function chooseStar(widget, value) {
  const radio = card(widget, "rating").querySelectorAll("input").find((i) => i.type === "radio" && i.value === String(value));
  radio.focus();
  radio.checked = true;
  radio.dispatch("change");
}

function notice(seq, text, custom, extra = {}) {
  return { seq, author: "system", text, at: "2026-11-21T19:00:00Z", buttons: [], custom, ...extra };
}

/* The gateway's notices of one handoff, as the gateway sends them (desk.py). */
const HANDOFF = [
  notice(1, "Łączę z konsultantem. Jesteś 1. w kolejce…", { handoff: { state: "queued", position: 1 } }),
  notice(2, "Do rozmowy dołącza konsultant Anna.", { handoff: { state: "agent", agent: "Anna" } }),
  { seq: 3, author: "agent", agent: "Anna", text: "Dzień dobry, w czym pomóc?\nSprawdzę to.", at: "2026-11-21T19:01:00Z", buttons: [] },
  notice(4, "Rozmowa z konsultantem (Anna) zakończona. Dalej pomoże Ci asystent Pomocnik.", { handoff: { state: "assistant" } }),
  notice(5, "Teraz żaden konsultant nie jest dostępny na czacie.\nMożesz zadzwonić pod numer 32 356 22 23 albo napisać na wsparcie@ingksiegowosc.pl.", { handoff: { state: "unavailable" }, offer: "ticket" }),
  notice(6, "Dziękujemy! Przyjęliśmy zgłoszenie nr PM-000001.", { ticket: { number: "PM-000001" } }),
  notice(7, "Rozmowa z konsultantem (Anna) zakończona. Dziękujemy! Jak oceniasz tę rozmowę?", { handoff: { state: "closed" }, offer: "rating" }),
  notice(8, "Dziękujemy za ocenę!", { rating: { score: 5 } }),
];

function pressEnter(widget, text) {
  widget.input.value = text;
  widget.input.dispatch("keydown", { key: "Enter", shiftKey: false, isComposing: false });
}

/* ----------------------------- scenarios ----------------------------- */

const scenarios = {
  async conversation(widget, out) {
    const launcher = widget.launcher;
    out.stylesheet = document.head.children.filter((l) => l.tagName === "LINK").map((l) => l.href);
    out.launcher = { label: launcher.getAttribute("aria-label"), expanded: launcher.getAttribute("aria-expanded"), text: launcher.textContent };
    out.dialog = {
      role: widget.panel.getAttribute("role"),
      label: widget.panel.getAttribute("aria-label"),
      heading: widget.panel.querySelectorAll("h2")[0].textContent,
      closeLabel: widget.panel.byClass("pomocnik-close")[0].getAttribute("aria-label"),
      logLive: widget.log.getAttribute("aria-live"),
      inputLabel: widget.panel.querySelectorAll("label").map((l) => [l.textContent, l.htmlFor]),
      inputId: widget.input.id,
      maxLength: widget.input.maxLength,
    };

    launcher.click();
    out.opened = snapshot(widget);

    widget.log.byClass("pomocnik-quick-reply")[0].click();
    out.quickReplyPending = snapshot(widget);
    await waitFor(() => !widget.pending, "quick reply answer");
    out.afterQuickReply = snapshot(widget);

    pressEnter(widget, "Jak zmienić adres e-mail?");
    out.typedPending = snapshot(widget);
    await waitFor(() => !widget.pending, "typed answer");
    out.afterTyped = snapshot(widget);

    widget.input.dispatch("keydown", { key: "Escape" });
    out.afterEscape = snapshot(widget);

    launcher.click();
    out.reopened = snapshot(widget);
  },

  async failure(widget, out) {
    widget.launcher.click();
    pressEnter(widget, "Mój kod to 123456");
    await waitFor(() => !widget.pending, "failed answer");
    out.afterFailedText = snapshot(widget);

    widget.log.byClass("pomocnik-quick-reply")[1].click();
    await waitFor(() => !widget.pending, "failed quick reply");
    out.afterFailedQuickReply = snapshot(widget);
  },

  // A reload: the stored conversation's transcript comes back from the gateway.
  async reload(widget, out) {
    let historyArrived = false;
    const onHistory = widget.connection.events.onHistory;
    widget.connection.events.onHistory = (messages) => {
      onHistory(messages);
      historyArrived = true;
    };
    out.beforeOpen = { stored: storage.get("pomocnik.conversation") || null, loaded: loadedScripts.length };
    widget.launcher.click();
    await waitFor(() => historyArrived, "history");
    out.restored = snapshot(widget);
    out.times = widget.log.querySelectorAll("time").map((t) => t.getAttribute("datetime"));
    pressEnter(widget, "Dziękuję");
    await waitFor(() => !widget.pending, "answer");
    out.after = snapshot(widget);
  },

  // The assistant asks for a PIN: the field is masked and the value shows as dots.
  async secret(widget, out) {
    widget.launcher.click();
    pressEnter(widget, "Chcę zmienić e-mail");
    await waitFor(() => !widget.pending, "the PIN question");
    out.asked = snapshot(widget);
    pressEnter(widget, "739184");
    out.secretPending = snapshot(widget);
    await waitFor(() => !widget.pending, "the answer to the PIN");
    out.afterSecret = snapshot(widget);
  },

  // The connection drops while a message waits for its answer, and right after a send.
  async reconnect(widget, out) {
    widget.launcher.click();
    pressEnter(widget, "Pierwsza");
    await waitFor(() => !widget.pending, "first answer");

    pressEnter(widget, "Druga");
    const second = () => widget.log.byClass("pomocnik-message--user")[1];
    await waitFor(() => second() && second().getAttribute("data-seq") !== null, "second stored");
    widget.connection.socket.io.engine.close(); // the network drops; socket.io reconnects
    out.dropped = snapshot(widget);
    await waitFor(() => !widget.pending, "second answer after the reconnect");
    out.afterReconnect = snapshot(widget);

    pressEnter(widget, "Trzecia");
    widget.connection.socket.io.engine.close(); // before any acknowledgement
    await waitFor(() => !widget.pending, "third answer");
    out.final = snapshot(widget);
  },

  // Over the per-conversation limit: a Polish notice, and the text stays in the field.
  async rate_limited(widget, out) {
    widget.launcher.click();
    pressEnter(widget, "Pierwsza");
    await waitFor(() => !widget.pending, "first answer");
    pressEnter(widget, "Druga");
    await waitFor(() => !widget.pending, "refusal");
    out.refused = snapshot(widget);
  },

  // The gateway's notices arriving live: queue, adviser, back to the assistant, the forms.
  async notices(widget, out) {
    widget.launcher.click();
    const live = (message) => widget.connection.events.onMessage(message);
    live(HANDOFF[0]);
    out.queued = snapshot(widget);
    widget.connection.events.onQueue(2);
    out.movedUp = snapshot(widget);
    live(HANDOFF[1]);
    live(HANDOFF[2]);
    out.agent = snapshot(widget);
    live(HANDOFF[3]);
    out.back = snapshot(widget);
    live(HANDOFF[4]);
    out.ticketOffered = snapshot(widget);
    live(HANDOFF[5]);
    out.ticketDone = snapshot(widget);
    live(HANDOFF[6]);
    out.ratingOffered = snapshot(widget);
    live(HANDOFF[7]);
    out.rated = snapshot(widget);
  },

  // After a reload the same notices come back as history: forms already used stay closed,
  // the header shows the last state, and nothing takes the focus.
  async replay(widget, out) {
    widget.launcher.click();
    widget.connection.events.onHistory(HANDOFF);
    out.all = snapshot(widget);
    // A transcript that ends with an unused ticket offer while an adviser holds the chat.
    widget.connection.events.onHistory([
      notice(11, "Teraz żaden konsultant nie jest dostępny na czacie.", { handoff: { state: "unavailable" }, offer: "ticket" }),
      notice(12, "Łączę z konsultantem. Jesteś 3. w kolejce…", { handoff: { state: "queued", position: 3 } }),
      notice(13, "Do rozmowy dołącza konsultant Marek.", { handoff: { state: "agent", agent: "Marek" } }),
    ]);
    out.openOffer = snapshot(widget);
    // A ticket confirmed after the offer closes it.
    widget.connection.events.onMessage(notice(14, "Dziękujemy! Przyjęliśmy zgłoszenie nr PM-000002.", { ticket: { number: "PM-000002" } }));
    out.closed = snapshot(widget);
  },

  // After hours: the assistant hands over, the gateway offers a ticket; the form is used.
  async ticket(widget, out) {
    widget.launcher.click();
    pressEnter(widget, "chce rozmawiac z konsultantem");
    await waitFor(() => card(widget, "ticket"), "the ticket form");
    out.offered = snapshot(widget);
    submitCard(widget, "ticket");
    out.empty = snapshot(widget);
    fill(widget, "ticket", { email: "jan.kowalski(at)majafirma", question: "Nie mogę wystawić faktury." });
    submitCard(widget, "ticket");
    await waitFor(() => snapshot(widget).cards[0].fields[0].error, "the e-mail error");
    out.invalid = snapshot(widget);
    fill(widget, "ticket", { email: "jan.kowalski@majafirma.pl" });
    submitCard(widget, "ticket");
    await waitFor(() => !card(widget, "ticket") && snapshot(widget).notices.some((n) => n.text.includes("PM-")), "the ticket number");
    out.sent = snapshot(widget);
  },

  // "Zakończ i oceń rozmowę" in the header, with the keyboard's radio group.
  async rating(widget, out) {
    widget.launcher.click();
    out.before = snapshot(widget);
    pressEnter(widget, "Dzień dobry");
    await waitFor(() => !widget.pending && !widget.rateButton.hidden, "the answer");
    out.conversation = snapshot(widget);
    widget.rateButton.click();
    out.opened = snapshot(widget);
    submitCard(widget, "rating");
    out.noScore = snapshot(widget);
    chooseStar(widget, 4);
    out.chosen = snapshot(widget);
    fill(widget, "rating", { comment: "Szybko i konkretnie." });
    submitCard(widget, "rating");
    await waitFor(() => !card(widget, "rating") && snapshot(widget).notices.length, "the thanks");
    out.rated = snapshot(widget);
    widget.rateButton.click(); // hidden now: nothing happens
    out.again = snapshot(widget);
  },

  // "Anuluj oczekiwanie" when the gateway says the conversation no longer waits (409).
  async queue_cancel(widget, out) {
    widget.launcher.click();
    pressEnter(widget, "Dzień dobry");
    await waitFor(() => !widget.pending, "the answer");
    widget.connection.events.onMessage(
      notice(100, "Łączę z konsultantem. Jesteś 1. w kolejce…", { handoff: { state: "queued", position: 1 } })
    );
    out.queued = snapshot(widget);
    widget.queueCancel.focus();
    widget.queueCancel.click();
    await waitFor(() => widget.queue.hidden, "the queue banner to go");
    out.cancelled = snapshot(widget);
  },

  // A page of a signed-in user: the token goes with session_request, never to storage.
  async identity(widget, out) {
    const emitted = [];
    const identities = [];
    const connect = widget.connection.connect.bind(widget.connection);
    widget.connection.connect = (io) => connect((...args) => {
      const socket = io(...args);
      const emit = socket.emit.bind(socket);
      socket.emit = (event, ...rest) => {
        emitted.push([event, rest[0]]);
        return emit(event, ...rest);
      };
      socket.on("pomocnik_identity", (data) => identities.push(data));
      return socket;
    });
    widget.launcher.click();
    await waitFor(() => identities.length, "pomocnik_identity");
    out.sessionRequests = emitted.filter(([event]) => event === "session_request").map(([, data]) => data);
    out.identities = identities;
    out.refused = snapshot(widget);
    out.storage = Object.fromEntries(storage);
    widget.connection.events.onIdentity({ verified: true, name: "Jan Kowalski" });
    out.verified = snapshot(widget);
  },

  async send_once(widget, out) {
    widget.launcher.click();
    pressEnter(widget, "Dzień dobry");
    await waitFor(() => !widget.pending, "answer");
    out.after = snapshot(widget);
  },
};

async function main() {
  context = vm.createContext(window);
  vm.runInContext(fs.readFileSync(widgetPath, "utf8"), context, { filename: "widget.js" });
  const widget = window.__pomocnikWidget;
  const out = {};
  await scenarios[scenario](widget, out);
  out.loadedScripts = loadedScripts;
  const socket = widget.connection.socket;
  if (socket) socket.disconnect();
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error));
  process.exit(1);
});
