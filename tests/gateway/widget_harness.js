// Runs the real widget.js against the real gateway, with a minimal stand-in for
// the browser's DOM (only what the widget uses). The socket.io client the widget
// loads is the vendored one, fetched from the gateway and run in the same context,
// over the WebSocket of Node (run with --experimental-websocket on Node 20).
// Prints observations as JSON; the pytest side makes the assertions.
//
//   node widget_harness.js <widget.js path> <gateway url> <scenario> [stored conversation id]
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
  };
}

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
