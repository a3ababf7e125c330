/* 在线客服 · 小贝 — the customer web chat.
 *
 * One WebSocket to /api/v1/assistant/ws: each message goes out as
 *   {"text", "conversation_id", "msisdn"?, "lang", "message_id"}
 * and comes back as the object POST /api/v1/assistant/messages returns
 *   {"conversation_id", "replies": [{"text", "choices"?, "article"?}], "intent", "confidence", "state", "handoff"}
 * (or {"error", "detail"} for a malformed message). The server answers a socket's messages in order.
 *
 * Human service: once an agent serves the conversation, a message is answered {"type": "ack", "message_id"}
 * instead (it went to the agent), and the server pushes {"type": "live", "event", "text", ...}: "waiting"
 * (queue position: "您前面还有N位客户，预计等待约M分钟", in the banner [data-testid="handoff-banner"]), "joined", "message" (the agent's words), "transferred" and
 * "ended" (小贝 answers again). After a reconnect the page sends {"type": "resume", "conversation_id"}.
 * Agent messages are li[data-testid="msg-agent"]; live notices li[data-testid="live-notice"].
 *
 * The conversation id is made here, before the first message, and kept in sessionStorage with the
 * transcript: a reload, a dropped socket or a restarted server carries on the same conversation. Every
 * message has its own id, so one re-sent after a drop is answered once (the server replays its answer).
 * Plain DOM, no dependencies; server text is only ever set as textContent.
 */
(function () {
  "use strict";

  var KEY = "hotline.chat.";
  var MAX_ITEMS = 300;          // transcript entries kept in sessionStorage
  var MAX_TRIES = 3;            // sends of one message before giving up on it
  var BACKOFF_MS = [300, 1000, 2000, 4000, 8000, 15000];
  var MSISDN_RE = /^(\+?86)?1\d{10}$/;
  var SECRET_RE = /^\*?\d{4,8}$/;

  var TEXT = {
    zh: {
      brand: "中国移动", title: "在线客服 · 小贝",
      pageTitle: "中国移动 在线客服 · 小贝",
      langButton: "English", langLabel: "Switch to English",
      newChat: "新对话", newChatLabel: "开始新对话",
      msisdnLabel: "手机号", msisdnPlaceholder: "选填，办理业务时用于验证",
      msisdnHint: "选填：查询或办理业务需短信验证码", msisdnInvalid: "请输入11位中国移动手机号",
      logLabel: "对话记录",
      inputLabel: "输入消息", inputPlaceholder: "请输入您的问题，按回车发送",
      codePlaceholder: "请输入验证码或服务密码",
      send: "发送", sendLabel: "发送消息",
      you: "我", bot: "小贝", system: "系统消息", agent: "人工客服",
      choicesLabel: "可选项，点击即可回复",
      source: "来源：知识库《{t}》",
      welcome: "您好，我是中国移动智能客服小贝。可以帮您查话费、查流量、办理或退订业务、解答资费问题；需要人工服务请输入“转人工”。",
      connecting: "正在连接小贝…", online: "小贝在线", offline: "连接已断开，正在重新连接…",
      connectError: "抱歉，暂时无法连接在线客服，正在为您重新连接，请稍候。您的消息会在连接恢复后自动发送。",
      sendFailed: "抱歉，这条消息没能发送成功，请稍后再试。",
      invalid: "抱歉，这条消息无法处理，请换个说法再试。",
      handoff: "已为您转接人工客服，请稍候。客服会看到您和小贝的对话。",
      handoffBanner: "已为您转接人工客服，请稍候，客服会看到您和小贝的对话。",
      pending: "发送中", masked: "••••••"
    },
    en: {
      brand: "China Mobile", title: "Online service · Xiaobei",
      pageTitle: "China Mobile Online Service · Xiaobei",
      langButton: "中文", langLabel: "切换到中文",
      newChat: "New chat", newChatLabel: "Start a new conversation",
      msisdnLabel: "Mobile number", msisdnPlaceholder: "Optional, to verify you for account services",
      msisdnHint: "Optional: account queries and orders need an SMS code", msisdnInvalid: "Enter an 11-digit China Mobile number",
      logLabel: "Conversation",
      inputLabel: "Type a message", inputPlaceholder: "Type your question, Enter to send",
      codePlaceholder: "Enter the code or service password",
      send: "Send", sendLabel: "Send message",
      you: "You", bot: "Xiaobei", system: "Notice", agent: "Agent",
      choicesLabel: "Options, click one to reply",
      source: "Source: knowledge base “{t}”",
      welcome: "Hello, I'm Xiaobei, China Mobile's assistant. I can check your charges and data, add or cancel services and answer questions; type “agent” for a human.",
      connecting: "Connecting to Xiaobei…", online: "Xiaobei is online", offline: "Disconnected, reconnecting…",
      connectError: "Sorry, the online service can't be reached right now. Reconnecting; your message will be sent as soon as we're back.",
      sendFailed: "Sorry, this message could not be sent. Please try again later.",
      invalid: "Sorry, that message could not be handled. Please rephrase it.",
      handoff: "You have been put through to an agent; please wait. They will see your conversation with Xiaobei.",
      handoffBanner: "You are being connected to an agent; they will see your conversation with Xiaobei.",
      pending: "sending", masked: "••••••"
    }
  };

  // ------------------------------------------------------------------ storage (sessionStorage, else memory)
  var memory = {};
  var store = {
    get: function (k) {
      try { return window.sessionStorage.getItem(KEY + k); } catch (e) { return memory[k] == null ? null : memory[k]; }
    },
    set: function (k, v) {
      try { window.sessionStorage.setItem(KEY + k, v); } catch (e) { memory[k] = v; }
    },
    del: function (k) {
      try { window.sessionStorage.removeItem(KEY + k); } catch (e) { delete memory[k]; }
    }
  };

  function hex(bytes) {
    var a = new Uint8Array(bytes);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function loadJSON(k, fallback) {
    try { var v = JSON.parse(store.get(k)); return v == null ? fallback : v; } catch (e) { return fallback; }
  }

  // ------------------------------------------------------------------ state
  // The server names a conversation and gives its secret once; both are needed to continue or resume it.
  var conversationId = store.get("conversation_id");
  var conversationSecret = store.get("conversation_secret");
  if (!conversationId || !/^[A-Za-z0-9:_-]{8,40}$/.test(conversationId) || !conversationSecret) {
    conversationId = null;
    conversationSecret = null;
  }
  var lang = store.get("lang") === "en" ? "en" : "zh";   // 中文 unless the customer chose English
  var transcript = loadJSON("transcript", []);
  var lastState = loadJSON("state", {});
  var handoffShown = !!conversationId && store.get("handoff_shown") === conversationId;
  var liveText = store.get("live_text") || "";   // the banner while a human serves (queue position, agent)

  var ws = null;
  var attempt = 0;
  var reconnectTimer = null;
  var outage = false;             // a connect attempt failed and no socket has opened since
  var queue = loadJSON("outbox", []);   // messages waiting for an open socket (kept across a reload)
  var inflight = [];              // sent, waiting for their answer (answered in order)
  queue = Array.isArray(queue) ? queue.filter(function (x) { return x && x.payload && x.id; }) : [];

  // ------------------------------------------------------------------ elements
  var $ = function (id) { return document.getElementById(id); };
  var els = {};

  function t(key) { return (TEXT[lang] || TEXT.zh)[key]; }

  function applyLanguage() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.title = t("pageTitle");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (el) {
      el.setAttribute("placeholder", t(el.getAttribute("data-i18n-placeholder")));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-aria]"), function (el) {
      el.setAttribute("aria-label", t(el.getAttribute("data-i18n-aria")));
    });
    els.lang.textContent = t("langButton");
    els.lang.setAttribute("aria-label", t("langLabel"));
    els.lang.setAttribute("title", t("langLabel"));
    els.lang.setAttribute("data-lang", lang);
    var welcome = $("welcome");
    if (welcome) welcome.querySelector(".text").textContent = t("welcome");
    setStatus(els.status.getAttribute("data-state") || "connecting");
    applyStage();
    validateMsisdn();
    if (liveText) els.banner.textContent = liveText;
  }

  function applyStage() {
    var secret = lastState && (lastState.stage === "otp" || lastState.stage === "password");
    els.input.setAttribute("placeholder", secret ? t("codePlaceholder") : t("inputPlaceholder"));
    els.input.setAttribute("autocomplete", secret ? "one-time-code" : "off");
    els.input.setAttribute("data-stage", (lastState && lastState.stage) || "idle");
  }

  function setStatus(state) {
    els.status.setAttribute("data-state", state);
    els.status.textContent = t(state) || "";
  }

  function scrollDown() {
    var wrap = els.wrap;
    window.requestAnimationFrame(function () { wrap.scrollTop = wrap.scrollHeight; });
  }

  function saveOutbox() {
    var waiting = inflight.concat(queue);
    if (waiting.length) store.set("outbox", JSON.stringify(waiting));
    else store.del("outbox");
  }

  function setTyping() {
    saveOutbox();
    var busy = inflight.length + queue.length > 0;
    els.typing.hidden = !busy;
    els.messages.setAttribute("aria-busy", busy ? "true" : "false");
    if (busy) scrollDown();
  }

  // ------------------------------------------------------------------ rendering
  function splitSource(text, article) {
    // The reply ends with the article's title; show it as the answer's source instead of in the text.
    var m = /\s*（以上内容来自知识库《([^》]+)》）\s*$/.exec(text) || /\s*\(From the knowledge base: “([^”]+)”\)\s*$/.exec(text);
    if (m) return { text: text.slice(0, m.index), title: m[1] };
    return { text: text, title: article };
  }

  function withoutListedChoices(text, choices) {
    // "请回复序号：\n1. …\n2. …" lists what the buttons show (numbered the same): list it once, as buttons.
    var lines = text.split("\n");
    var n = choices.length;
    if (lines.length <= n) return text;
    var tail = lines.slice(lines.length - n);
    for (var i = 0; i < n; i++) {
      if (tail[i].trim() !== (i + 1) + ". " + choices[i]) return text;
    }
    return lines.slice(0, lines.length - n).join("\n").replace(/\s+$/, "");
  }

  function renderItem(item, index) {
    var li = document.createElement("li");
    li.className = "msg " + item.role;
    li.setAttribute("data-testid", "msg-" + item.role);
    li.setAttribute("data-index", String(index));
    if (item.id) li.id = "m-" + item.id;
    if (item.role === "notice" || item.role === "live") {
      li.setAttribute("role", "note");
      li.setAttribute("data-testid", item.role === "live" ? "live-notice" : "handoff-notice");
      li.classList.add("notice", "handoff");
    }
    var who = document.createElement("span");
    who.className = item.role === "agent" ? "who" : "visually-hidden";
    who.textContent = item.role === "agent" ? t("agent") + (item.name ? " " + item.name : "")
      : (item.role === "customer" ? t("you") : item.role === "assistant" ? t("bot") : t("system")) + "：";
    li.appendChild(who);
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    var p = document.createElement("p");
    p.className = "text";
    p.setAttribute("data-testid", "msg-text");
    p.textContent = item.text;
    bubble.appendChild(p);
    if (item.source) {
      var src = document.createElement("p");
      src.className = "source";
      src.setAttribute("data-testid", "article-source");
      if (item.article) src.setAttribute("data-article", item.article);
      src.textContent = t("source").replace("{t}", item.source);
      bubble.appendChild(src);
    }
    li.appendChild(bubble);
    if (item.choices && item.choices.length) {
      var group = document.createElement("div");
      group.className = item.numbered ? "choices numbered" : "choices";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", t("choicesLabel"));
      group.setAttribute("data-testid", "choices");
      item.choices.forEach(function (label, i) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "choice";
        b.setAttribute("data-testid", "choice");
        b.setAttribute("data-choice", String(i + 1));
        b.textContent = label;
        b.disabled = !!item.used;
        b.addEventListener("click", function () { if (!b.disabled) sendText(label); });
        group.appendChild(b);
      });
      li.appendChild(group);
    }
    if (item.pending) {
      li.setAttribute("data-state", "pending");
      li.setAttribute("aria-label", t("pending"));
    }
    return li;
  }

  function removeWelcome() {
    var w = $("welcome");
    if (w) w.parentNode.removeChild(w);
  }

  function renderWelcome() {
    var li = document.createElement("li");
    li.id = "welcome";
    li.className = "msg assistant intro";
    li.setAttribute("data-testid", "welcome");
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = t("welcome");
    bubble.appendChild(p);
    li.appendChild(bubble);
    els.messages.appendChild(li);
  }

  function renderAll() {
    els.messages.textContent = "";
    if (!transcript.length) renderWelcome();
    var waiting = {};
    queue.forEach(function (x) { waiting[x.id] = true; });
    transcript.forEach(function (item, i) {
      els.messages.appendChild(renderItem(waiting[item.id] ? Object.assign({}, item, { pending: true }) : item, i));
    });
    els.banner.hidden = !(lastState && lastState.handed_off);
    if (liveText) els.banner.textContent = liveText;
    scrollDown();
  }

  function save() {
    if (transcript.length > MAX_ITEMS) transcript = transcript.slice(transcript.length - MAX_ITEMS);
    store.set("transcript", JSON.stringify(transcript.map(function (x) {
      var copy = {};
      for (var k in x) if (k !== "pending") copy[k] = x[k];
      return copy;
    })));
  }

  function add(item) {
    removeWelcome();
    transcript.push(item);
    save();
    var li = renderItem(item, transcript.length - 1);
    els.messages.appendChild(li);
    scrollDown();
    return li;
  }

  function errorBubble(key, id) {
    removeWelcome();
    if (id && $(id)) return;
    var li = document.createElement("li");
    li.className = "msg error";
    li.setAttribute("role", "alert");
    li.setAttribute("data-testid", "error-bubble");
    if (id) li.id = id;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = t(key);
    bubble.appendChild(p);
    li.appendChild(bubble);
    els.messages.appendChild(li);
    scrollDown();
  }

  function retireChoices() {
    var changed = false;
    transcript.forEach(function (x) { if (x.choices && !x.used) { x.used = true; changed = true; } });
    if (changed) save();
    Array.prototype.forEach.call(els.messages.querySelectorAll("button.choice"), function (b) { b.disabled = true; });
  }

  // ------------------------------------------------------------------ the socket
  function socketUrl() {
    var meta = document.querySelector('meta[name="hotline-ws"]');
    var path = (meta && meta.getAttribute("content")) || "/api/v1/assistant/ws";
    var url = new URL(path, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  function connect() {
    window.clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) return;
    setStatus("connecting");
    var sock;
    try {
      sock = new WebSocket(socketUrl());
    } catch (e) {
      failed();
      return;
    }
    ws = sock;
    var opened = false;
    sock.onopen = function () {
      if (ws !== sock) return;
      opened = true;
      attempt = 0;
      outage = false;
      var err = $("connect-error");
      if (err) err.parentNode.removeChild(err);
      setStatus("online");
      if (lastState && lastState.handed_off) {   // hear the live chat again (position, agent, messages)
        if (conversationId) {
          try { sock.send(JSON.stringify({ type: "resume", conversation_id: conversationId, secret: conversationSecret, lang: lang })); } catch (e) { /* closing */ }
        }
      }
      flush();
    };
    sock.onmessage = function (ev) { if (ws === sock) receive(ev.data); };
    sock.onerror = function () { /* a close event follows */ };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      // What was sent but not answered goes out again, in order, with the same message ids.
      queue = inflight.concat(queue);
      inflight = [];
      if (opened && attempt === 0) {
        setStatus("offline");
        attempt = 1;
        reconnectTimer = window.setTimeout(connect, BACKOFF_MS[0]);
      } else {
        failed();
      }
    };
  }

  function failed() {
    ws = null;
    setStatus("offline");
    if (!outage) {
      outage = true;
      errorBubble("connectError", "connect-error");
    }
    var delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    delay = Math.round(delay * (0.8 + Math.random() * 0.4));
    reconnectTimer = window.setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (!ws) { attempt = Math.min(attempt, 1); connect(); }
  }

  function flush() {
    while (ws && ws.readyState === WebSocket.OPEN && queue.length) {
      var item = queue.shift();
      item.tries += 1;
      if (item.tries > MAX_TRIES) {
        markSent(item);
        errorBubble("sendFailed");
        continue;
      }
      item.payload.conversation_id = conversationId;
      item.payload.secret = conversationSecret;
      try {
        ws.send(JSON.stringify(item.payload));
      } catch (e) {
        queue.unshift(item);
        break;
      }
      inflight.push(item);
    }
    setTyping();
  }

  function markSent(item) {
    var li = item.id && $("m-" + item.id);
    if (li) { li.removeAttribute("data-state"); li.removeAttribute("aria-label"); }
  }

  function receive(raw) {
    var data;
    try { data = JSON.parse(raw); } catch (e) { return; }
    if (data && data.type === "live") { live(data); return; }
    var item = inflight.shift();
    if (data && data.type === "ack") {   // taken for the agent serving us: no reply from 小贝
      if (item) markSent(item);
      setTyping();
      return;
    }
    if (item) markSent(item);
    setTyping();
    if (data && data.error === "unknown conversation") {   // over or not ours: the next message starts afresh
      conversationId = null;
      conversationSecret = null;
      return;
    }
    if (!data || data.error || !Array.isArray(data.replies)) {
      errorBubble("invalid");
      return;
    }
    if (data.conversation_id && data.conversation_id !== conversationId) {
      conversationId = data.conversation_id;
      conversationSecret = data.secret || null;
      store.set("conversation_id", conversationId);
      store.set("conversation_secret", conversationSecret || "");
    }
    data.replies.forEach(function (r) {
      var entry = { role: "assistant", text: String(r.text || "") };
      if (r.article) {
        var s = splitSource(entry.text, String(r.article));
        entry.text = s.text;
        entry.source = s.title;
        entry.article = String(r.article);
      }
      if (Array.isArray(r.choices) && r.choices.length) {
        entry.choices = r.choices.map(String);
        var shorter = withoutListedChoices(entry.text, entry.choices);
        if (shorter !== entry.text) { entry.text = shorter; entry.numbered = true; }
      }
      add(entry);
    });
    if (data.state && typeof data.state === "object") {
      lastState = data.state;
      store.set("state", JSON.stringify(lastState));
      applyStage();
    }
    var handedOff = !!data.handoff || !!(lastState && lastState.handed_off);
    if (handedOff && !handoffShown) {
      handoffShown = true;
      store.set("handoff_shown", conversationId);
      add({ role: "notice", text: t("handoff") });
    }
    els.banner.hidden = !handedOff;
  }

  function setLiveText(text) {
    liveText = text || "";
    if (liveText) store.set("live_text", liveText); else store.del("live_text");
    els.banner.textContent = liveText || t("handoffBanner");
  }

  function live(data) {
    var text = String(data.text || "");
    if (data.event === "message") {
      add({ role: "agent", text: text, name: data.name ? String(data.name) : "" });
      return;
    }
    if (data.event === "ended") {
      add({ role: "live", text: text });
      setLiveText("");
      lastState = Object.assign({}, lastState || {}, { handed_off: false });
      store.set("state", JSON.stringify(lastState));
      handoffShown = false;
      store.del("handoff_shown");
      els.banner.hidden = true;
      return;
    }
    if (!lastState || !lastState.handed_off) {
      lastState = Object.assign({}, lastState || {}, { handed_off: true });
      store.set("state", JSON.stringify(lastState));
    }
    els.banner.hidden = false;
    setLiveText(text);
    var last = transcript[transcript.length - 1];
    var repeat = last && last.role === "live" && last.text === text;
    // The queue position only updates the banner; the agent joining or a transfer is kept in the log.
    if ((data.event === "joined" || data.event === "transferred" || data.event === "callback" ||
         data.event === "callback_no_number") && !repeat) {
      add({ role: "live", text: text });
    }
  }

  // ------------------------------------------------------------------ sending
  function currentMsisdn() {
    var v = (els.msisdn.value || "").replace(/[\s-]/g, "");
    return MSISDN_RE.test(v) ? v : "";
  }

  function validateMsisdn() {
    var raw = (els.msisdn.value || "").trim();
    var bad = raw !== "" && !currentMsisdn();
    els.msisdn.setAttribute("aria-invalid", bad ? "true" : "false");
    els.hint.textContent = bad ? t("msisdnInvalid") : t("msisdnHint");
    els.hint.classList.toggle("invalid", bad);
  }

  function sendText(text) {
    text = String(text || "").trim().slice(0, 1000);
    if (!text) return;
    retireChoices();
    var stage = lastState && lastState.stage;
    var secret = (stage === "otp" || stage === "password") && SECRET_RE.test(text.replace(/\s/g, ""));
    var id = hex(12);
    var payload = { text: text, conversation_id: conversationId, lang: lang, message_id: id };
    var number = currentMsisdn();
    if (number) payload.msisdn = number;
    add({ role: "customer", text: secret ? t("masked") : text, id: id, secret: secret || undefined, pending: true });
    queue.push({ payload: payload, tries: 0, id: id });
    if (ws && ws.readyState === WebSocket.OPEN) flush();
    else { setTyping(); reconnectNow(); }
  }

  function autosize() {
    els.input.style.height = "auto";
    els.input.style.height = Math.min(els.input.scrollHeight, 140) + "px";
  }

  function newConversation() {
    conversationId = null;
    conversationSecret = null;
    store.set("conversation_id", "");
    store.set("conversation_secret", "");
    transcript = [];
    lastState = {};
    handoffShown = false;
    liveText = "";
    store.del("live_text");
    store.del("transcript");
    store.del("state");
    store.del("handoff_shown");
    queue = [];
    inflight = [];
    setTyping();
    renderAll();
    applyStage();
    // A fresh socket: the server keeps the last conversation id per socket.
    if (ws) { var old = ws; ws = null; old.onclose = null; try { old.close(); } catch (e) { /* gone */ } }
    attempt = 0;
    connect();
    els.input.focus();
  }

  function init() {
    els.messages = $("messages");
    els.wrap = $("log-wrap");
    els.typing = $("typing");
    els.status = $("status");
    els.banner = $("handoff-banner");
    els.form = $("composer");
    els.input = $("input");
    els.msisdn = $("msisdn");
    els.hint = $("msisdn-hint");
    els.lang = $("lang-toggle");

    els.msisdn.value = store.get("msisdn") || "";
    els.msisdn.addEventListener("input", function () {
      store.set("msisdn", els.msisdn.value.trim());
      validateMsisdn();
    });
    els.lang.addEventListener("click", function () {
      lang = lang === "en" ? "zh" : "en";
      store.set("lang", lang);
      applyLanguage();
    });
    $("new-chat").addEventListener("click", newConversation);
    els.form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = els.input.value;
      if (!text.trim()) return;
      els.input.value = "";
      autosize();
      sendText(text);
      els.input.focus();
    });
    els.input.addEventListener("keydown", function (ev) {
      // Enter sends; Shift+Enter is a new line; Enter that ends an IME composition is not a send.
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        if (typeof els.form.requestSubmit === "function") els.form.requestSubmit();
        else els.form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    });
    els.input.addEventListener("input", autosize);
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) reconnectNow(); });

    applyLanguage();
    renderAll();
    setTyping();
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
