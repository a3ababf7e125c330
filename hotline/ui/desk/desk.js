/* 坐席工作台 — the agent desktop. Plain DOM, no build step, no dependencies; server text only as textContent.
 *
 * Talks to /api/v1/desk (REST, session cookie hotline_desk) and /api/v1/desk/ws, which pushes
 *   {"type": "view", state, presence, reason, offers: [...], contacts: [...], server_time}
 *   {"type": "message", contact_id, conversation_id, kind, role, text, name, seq}
 *
 * Stable element ids (tests and the customer panel rely on them):
 *   login:      #login-view #login-form #login-user #login-pass #login-submit #login-error
 *   header:     #agent-name #state-badge[data-state] #presence-select (values: available, offline, break:<code>)
 *               #ws-status[data-state] #lang-toggle #logout
 *   offer:      #offer[data-contact-id] #offer-info #offer-countdown #offer-accept #offer-reject
 *   contacts:   #contact-list > li[data-contact-id][data-status] > button   #no-contacts
 *   chat:       #chat-who #transcript > li.msg[data-role=assistant|customer|agent|system][data-seq]
 *               (each with .who and .text)  #canned > button.canned-reply  #chat-input #chat-send
 *               #finish #transfer #desk-error
 *   wrap-up:    #wrapup #wrapup-code #wrapup-notes #wrapup-submit #wrapup-left
 *   transfer:   #transfer-dialog #transfer-queue #transfer-agent #transfer-submit #transfer-cancel #transfer-error
 *   context:    #ctx-business #ctx-slots #ctx-sentiment #ctx-queue #ctx-tier #ctx-wait #ctx-reason
 *   360° view:  #customer-panel, filled by customer.js: window.CustomerPanel.show({contactId, msisdn,
 *               conversationId}) when a contact is selected, .clear() when none is.
 * body[data-ready="1"] once the page has decided between the login form and the desk.
 */
(function () {
  "use strict";

  var API = (document.querySelector('meta[name="hotline-api"]') || {}).content || "/api/v1/desk";
  var KEY = "hotline.desk.";
  var PING_MS = 25000;
  var BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

  var TEXT = {
    zh: {
      brand: "中国移动", title: "坐席工作台", pageTitle: "中国移动 坐席工作台",
      langButton: "English", langLabel: "Switch to English",
      presenceLabel: "我的状态", logout: "签出",
      loginTitle: "坐席登录", loginUser: "工号", loginPass: "密码", loginSubmit: "登录",
      offerTitle: "新的接入请求", offerLeft: "剩余", seconds: "秒", accept: "接起", reject: "拒绝",
      contactsTitle: "我的会话", noContacts: "暂无会话。示闲后将为您分配客户。",
      chatTitle: "会话", transfer: "转接", finish: "结束会话", chatInput: "回复客户",
      chatPlaceholder: "输入回复，回车发送，Shift+回车换行", send: "发送",
      wrapupTitle: "话后小结", wrapupCode: "小结代码", wrapupNotes: "备注", wrapupSubmit: "提交小结",
      wrapupLeft: "剩余 {s} 秒自动结束",
      contextTitle: "客户诉求", ctxBusiness: "识别业务", ctxSlots: "已填信息", ctxSentiment: "情绪",
      ctxQueue: "队列", ctxTier: "客户级别", ctxWait: "等待时长", ctxReason: "转人工原因",
      transferTitle: "转接", transferQueue: "转到队列", transferAgent: "或转给客服", transferSubmit: "确认转接",
      cancel: "取消", chooseQueue: "（选择队列）", chooseAgent: "（选择客服）",
      available: "示闲", offline: "离线", breakPrefix: "小休：",
      state_offline: "离线", state_available: "空闲", state_offered: "振铃", state_busy: "通话中",
      state_wrap_up: "话后处理", state_break: "小休",
      status_waiting: "排队", status_offered: "振铃", status_active: "服务中", status_wrap_up: "待小结",
      who_assistant: "小贝", who_customer: "客户", who_agent: "我", who_system: "系统",
      tier_vip: "VIP（全球通/五星）", tier_normal: "普通",
      sent_neutral: "平稳", sent_negative: "不满", sent_angry: "愤怒", sent_positive: "满意",
      reason_asked: "客户要求", reason_misunderstood: "小贝未能理解", reason_angry: "客户情绪激动",
      waitFmt: "{s} 秒", none: "—", urgent: "加急",
      wsOnline: "已连接", wsOffline: "连接中断，正在重连…",
      errorGeneric: "操作失败，请重试。", loginFailed: "登录失败。"
    },
    en: {
      brand: "China Mobile", title: "Agent desktop", pageTitle: "China Mobile Agent Desktop",
      langButton: "中文", langLabel: "切换到中文",
      presenceLabel: "My state", logout: "Log out",
      loginTitle: "Agent sign-in", loginUser: "Login", loginPass: "Password", loginSubmit: "Sign in",
      offerTitle: "Incoming contact", offerLeft: "", seconds: "s left", accept: "Accept", reject: "Reject",
      contactsTitle: "My contacts", noContacts: "No contacts. Go available to receive customers.",
      chatTitle: "Conversation", transfer: "Transfer", finish: "Finish", chatInput: "Reply to the customer",
      chatPlaceholder: "Type a reply, Enter to send, Shift+Enter for a new line", send: "Send",
      wrapupTitle: "Wrap-up", wrapupCode: "Wrap-up code", wrapupNotes: "Notes", wrapupSubmit: "Submit wrap-up",
      wrapupLeft: "ends by itself in {s} s",
      contextTitle: "What the customer wants", ctxBusiness: "Business", ctxSlots: "Details given",
      ctxSentiment: "Sentiment", ctxQueue: "Queue", ctxTier: "Tier", ctxWait: "Waited", ctxReason: "Hand-off reason",
      transferTitle: "Transfer", transferQueue: "To a queue", transferAgent: "or to an agent",
      transferSubmit: "Transfer", cancel: "Cancel", chooseQueue: "(choose a queue)", chooseAgent: "(choose an agent)",
      available: "Available", offline: "Offline", breakPrefix: "Break: ",
      state_offline: "Offline", state_available: "Available", state_offered: "Ringing", state_busy: "Busy",
      state_wrap_up: "Wrap-up", state_break: "Break",
      status_waiting: "Waiting", status_offered: "Ringing", status_active: "Active", status_wrap_up: "Wrap-up",
      who_assistant: "Xiaobei", who_customer: "Customer", who_agent: "Me", who_system: "System",
      tier_vip: "VIP", tier_normal: "Standard",
      sent_neutral: "Calm", sent_negative: "Unhappy", sent_angry: "Angry", sent_positive: "Happy",
      reason_asked: "Asked for an agent", reason_misunderstood: "Xiaobei did not understand",
      reason_angry: "Customer upset",
      waitFmt: "{s} s", none: "—", urgent: "urgent",
      wsOnline: "Connected", wsOffline: "Disconnected, reconnecting…",
      errorGeneric: "That did not work; please try again.", loginFailed: "Sign-in failed."
    }
  };

  var lang = localStorage.getItem(KEY + "lang") === "en" ? "en" : "zh";
  var me = null;                // {login, name, role}
  var view = null;              // the last view pushed
  var clockSkew = 0;            // server_time - local time (s)
  var codes = { wrapup: [], breaks: [] };
  var selected = null;          // contact id shown in the chat pane
  var contexts = {};            // contact id -> context (with transcript)
  var panelFor = null;          // the contact the customer panel shows
  var ws = null, attempt = 0, pingTimer = null, reconnectTimer = null, countdownTimer = null;

  var $ = function (id) { return document.getElementById(id); };
  function t(key) { var v = (TEXT[lang] || TEXT.zh)[key]; return v == null ? key : v; }
  function fmt(key, values) {
    return t(key).replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }
  function show(el, on) { el.hidden = !on; }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // ------------------------------------------------------------------ HTTP
  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (r) {
      return r.text().then(function (txt) {
        var data = null;
        try { data = txt ? JSON.parse(txt) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new Error((data && data.error && (lang === "en" ? data.error.message_en : data.error.message_zh))
                              || t("errorGeneric"));
          err.status = r.status;
          err.code = data && data.error && data.error.code;
          throw err;
        }
        return data;
      });
    });
  }

  function showError(message) {
    var box = $("desk-error");
    box.textContent = message || "";
    show(box, !!message);
  }

  // ------------------------------------------------------------------ language
  function applyLanguage() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.title = t("pageTitle");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (e) {
      e.textContent = t(e.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (e) {
      e.setAttribute("placeholder", t(e.getAttribute("data-i18n-placeholder")));
    });
    var b = $("lang-toggle");
    b.textContent = t("langButton");
    b.setAttribute("aria-label", t("langLabel"));
    renderPresenceOptions();
    if (view) renderView(view);
    if (selected && contexts[selected]) renderContext(contexts[selected]);
    renderWrapupCodes();
    loadCanned();
  }

  // ------------------------------------------------------------------ sign-in
  function signedIn(agent) {
    me = agent;
    show($("login-view"), false);
    show($("desk-view"), true);
    ["agent-name", "state-badge", "presence-select", "ws-status", "logout"].forEach(function (id) { show($(id), true); });
    $("agent-name").textContent = agent.name + "（" + agent.login + "）";
    document.body.setAttribute("data-ready", "1");
    api("GET", "/codes").then(function (c) {
      codes = c;
      renderPresenceOptions();
      renderWrapupCodes();
      if (view) renderView(view);
    }).catch(function () {});
    connect();
  }

  function signedOut() {
    me = null;
    view = null;
    selected = null;
    contexts = {};
    panelFor = null;
    if (ws) { var old = ws; ws = null; old.onclose = null; try { old.close(); } catch (e) { /* gone */ } }
    window.clearTimeout(reconnectTimer);
    window.clearInterval(pingTimer);
    show($("desk-view"), false);
    show($("login-view"), true);
    ["agent-name", "state-badge", "presence-select", "ws-status", "logout"].forEach(function (id) { show($(id), false); });
    if (window.CustomerPanel) window.CustomerPanel.clear();
    document.body.setAttribute("data-ready", "1");
    $("login-user").focus();
  }

  function login(ev) {
    ev.preventDefault();
    var box = $("login-error");
    show(box, false);
    var user = $("login-user").value.trim();
    var pass = $("login-pass").value;
    if (!user || !pass) return;
    $("login-submit").disabled = true;
    api("POST", "/login", { login: user, password: pass }).then(function (data) {
      $("login-pass").value = "";
      view = data.view;
      signedIn(data.agent);
      renderView(view);
    }).catch(function (err) {
      box.textContent = err.message || t("loginFailed");
      show(box, true);
    }).then(function () { $("login-submit").disabled = false; });
  }

  function logout() {
    api("POST", "/logout").then(signedOut).catch(function (err) { showError(err.message); });
  }

  // ------------------------------------------------------------------ the socket
  function connect() {
    window.clearTimeout(reconnectTimer);
    if (ws || !me) return;
    var url = new URL(API + "/ws", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    var sock = new WebSocket(url.toString());
    ws = sock;
    sock.onopen = function () {
      attempt = 0;
      setWs("online");
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(function () { try { sock.send("ping"); } catch (e) { /* closing */ } }, PING_MS);
      if (selected) loadContext(selected);   // what was said while the socket was away
    };
    sock.onmessage = function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.type === "view") { view = data; renderView(data); }
      else if (data.type === "message") onChatEvent(data);
    };
    sock.onclose = function (e) {
      if (ws !== sock) return;
      ws = null;
      window.clearInterval(pingTimer);
      setWs("offline");
      if (e.code === 4401) { signedOut(); return; }
      var delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
      attempt += 1;
      reconnectTimer = window.setTimeout(connect, delay);
    };
  }

  function setWs(state) {
    var s = $("ws-status");
    s.setAttribute("data-state", state);
    s.textContent = state === "online" ? t("wsOnline") : t("wsOffline");
  }

  // ------------------------------------------------------------------ presence
  function renderPresenceOptions() {
    var sel = $("presence-select");
    var current = sel.value;
    clear(sel);
    var opts = [["available", t("available")]];
    (codes.breaks || []).forEach(function (c) {
      opts.push(["break:" + c.code, t("breakPrefix") + (lang === "en" ? c.title_en : c.title_zh)]);
    });
    opts.push(["offline", t("offline")]);
    opts.forEach(function (o) {
      var op = el("option", null, o[1]);
      op.value = o[0];
      sel.appendChild(op);
    });
    sel.value = presenceValue() || current || "offline";
  }

  function presenceValue() {
    if (!view) return null;
    if (view.presence === "break") return "break:" + (view.reason || "");
    return view.presence;
  }

  function setPresence() {
    var v = $("presence-select").value;
    var body = v.indexOf("break:") === 0 ? { presence: "break", reason: v.slice(6) } : { presence: v };
    api("PUT", "/me/presence", body).then(function (data) { view = data; renderView(data); })
      .catch(function (err) { showError(err.message); renderView(view); });
  }

  // ------------------------------------------------------------------ the view
  function renderView(v) {
    if (!v) return;
    clockSkew = v.server_time - Date.now() / 1000;
    var badge = $("state-badge");
    badge.setAttribute("data-state", v.state);
    badge.textContent = t("state_" + v.state) + (v.state === "break" && v.reason ? "·" + breakTitle(v.reason) : "");
    var sel = $("presence-select");
    var pv = presenceValue();
    if (pv && sel.value !== pv && Array.prototype.some.call(sel.options, function (o) { return o.value === pv; })) {
      sel.value = pv;
    }
    renderOffer(v.offers && v.offers[0]);
    renderContacts(v.contacts || []);
  }

  function breakTitle(code) {
    var c = (codes.breaks || []).filter(function (x) { return x.code === code; })[0];
    return c ? (lang === "en" ? c.title_en : c.title_zh) : code;
  }

  function businessName(x) {
    if (!x || !x.business) return null;
    return (lang === "en" ? x.business_name_en : x.business_name_zh) || x.business;
  }

  function queueTitle(x) { return lang === "en" ? x.queue_title_en : x.queue_title_zh; }

  function renderOffer(offer) {
    var box = $("offer");
    window.clearInterval(countdownTimer);
    if (!offer) {
      show(box, false);
      box.setAttribute("data-contact-id", "");
      return;
    }
    box.setAttribute("data-contact-id", offer.contact_id);
    var parts = [offer.msisdn_masked || t("none"), queueTitle(offer)];
    var b = businessName(offer);
    if (b) parts.push(b);
    if (offer.tier === "vip") parts.push("VIP");
    if (offer.urgent) parts.push(t("urgent"));
    $("offer-info").textContent = parts.join(" · ");
    show(box, true);
    var tickFn = function () {
      var left = Math.max(0, Math.ceil(offer.expires_at - (Date.now() / 1000 + clockSkew)));
      $("offer-countdown").textContent = String(left);
    };
    tickFn();
    countdownTimer = window.setInterval(tickFn, 250);
  }

  function renderContacts(list) {
    var ul = $("contact-list");
    clear(ul);
    show($("no-contacts"), list.length === 0);
    list.forEach(function (c) {
      var li = el("li", "contact");
      li.setAttribute("data-contact-id", c.contact_id);
      li.setAttribute("data-status", c.status);
      if (c.contact_id === selected) li.classList.add("selected");
      var b = el("button");
      b.type = "button";
      b.appendChild(el("span", "num", c.msisdn_masked || c.contact_id));
      b.appendChild(el("span", "status", t("status_" + c.status)));
      b.appendChild(el("span", "biz muted", businessName(c) || queueTitle(c)));
      b.addEventListener("click", function () { select(c.contact_id); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    var ids = list.map(function (c) { return c.contact_id; });
    if (selected && ids.indexOf(selected) < 0) select(null);
    if (!selected && ids.length) select(ids[0]);
    if (selected) {
      var cur = list.filter(function (c) { return c.contact_id === selected; })[0];
      if (cur) applyStatus(cur);
    }
  }

  // ------------------------------------------------------------------ a contact
  function select(contactId) {
    if (contactId === selected) return;
    selected = contactId;
    Array.prototype.forEach.call(document.querySelectorAll("#contact-list > li"), function (li) {
      li.classList.toggle("selected", li.getAttribute("data-contact-id") === contactId);
    });
    showError("");
    if (!contactId) {
      clear($("transcript"));
      $("chat-who").textContent = "";
      renderContext(null);
      applyStatus(null);
      clear($("canned"));
      panelFor = null;
      if (window.CustomerPanel) window.CustomerPanel.clear();
      return;
    }
    var summary = (view && view.contacts || []).filter(function (c) { return c.contact_id === contactId; })[0];
    if (summary) applyStatus(summary);
    loadContext(contactId);
    loadCanned();
  }

  function loadContext(contactId) {
    return api("GET", "/contacts/" + encodeURIComponent(contactId)).then(function (ctx) {
      var old = contexts[contactId];
      if (old) {   // keep live messages that arrived while loading
        var seen = {};
        ctx.transcript.forEach(function (m) { if (m.seq != null) seen[m.seq] = true; });
        old.transcript.forEach(function (m) { if (m.seq != null && !seen[m.seq]) ctx.transcript.push(m); });
        ctx.transcript.sort(function (a, b) { return (a.seq || 0) - (b.seq || 0); });
      }
      contexts[contactId] = ctx;
      if (selected !== contactId) return;
      renderContext(ctx);
      renderTranscript(ctx);
      if (window.CustomerPanel && panelFor !== contactId) {   // once per contact: the panel keeps its state
        panelFor = contactId;
        window.CustomerPanel.show({ contactId: contactId, msisdn: ctx.msisdn, conversationId: ctx.conversation_id });
      }
    }).catch(function (err) { if (selected === contactId) showError(err.message); });
  }

  function applyStatus(c) {
    var active = !!c && c.status === "active";
    var wrapping = !!c && c.status === "wrap_up";
    $("chat-input").disabled = !active;
    $("chat-send").disabled = !active;
    $("finish").disabled = !active;
    $("transfer").disabled = !active;
    show($("wrapup"), wrapping);
    if (wrapping && c.wrap_up_until) {
      var left = Math.max(0, Math.round(c.wrap_up_until - (Date.now() / 1000 + clockSkew)));
      $("wrapup-left").textContent = fmt("wrapupLeft", { s: left });
    }
    if (c) {
      $("chat-who").textContent = [c.msisdn_masked, queueTitle(c), t("status_" + c.status)].filter(Boolean).join(" · ");
    }
  }

  function renderContext(ctx) {
    var set = function (id, text) { $(id).textContent = text == null || text === "" ? t("none") : text; };
    if (!ctx) {
      ["ctx-business", "ctx-slots", "ctx-sentiment", "ctx-queue", "ctx-tier", "ctx-wait", "ctx-reason"]
        .forEach(function (id) { set(id, null); });
      return;
    }
    set("ctx-business", businessName(ctx));
    var slots = ctx.slots || {};
    set("ctx-slots", Object.keys(slots).map(function (k) { return k + "：" + slots[k]; }).join("；"));
    var s = ctx.sentiment || {};
    set("ctx-sentiment", s.label ? (t("sent_" + s.label) + (s.cues && s.cues.length ? "（" + s.cues.join("、") + "）" : "")) : null);
    set("ctx-queue", queueTitle(ctx));
    set("ctx-tier", t("tier_" + (ctx.tier || "normal")) + (ctx.urgent ? " · " + t("urgent") : ""));
    set("ctx-wait", fmt("waitFmt", { s: Math.round(ctx.waited_s || 0) }));
    set("ctx-reason", ctx.reason ? t("reason_" + ctx.reason) : null);
  }

  function renderTranscript(ctx) {
    var ol = $("transcript");
    clear(ol);
    ctx.transcript.forEach(function (m) { ol.appendChild(messageItem(m)); });
    ol.scrollTop = ol.scrollHeight;
  }

  function messageItem(m) {
    var li = el("li", "msg " + m.role);
    li.setAttribute("data-role", m.role);
    if (m.seq != null) li.setAttribute("data-seq", String(m.seq));
    var who = m.role === "agent" && m.name && me && m.name !== me.name ? m.name : t("who_" + m.role);
    li.appendChild(el("span", "who", who));
    li.appendChild(el("p", "text", m.text));
    return li;
  }

  function addMessage(contactId, m) {
    var ctx = contexts[contactId];
    if (!ctx) return;
    if (m.seq != null && ctx.transcript.some(function (x) { return x.seq === m.seq; })) return;
    ctx.transcript.push(m);
    if (selected === contactId) {
      var ol = $("transcript");
      ol.appendChild(messageItem(m));
      ol.scrollTop = ol.scrollHeight;
    }
  }

  function onChatEvent(e) {
    if (!e.contact_id) return;
    addMessage(e.contact_id, { seq: e.seq, role: e.role, text: e.text, name: e.name });
  }

  // ------------------------------------------------------------------ actions
  function accept() {
    var id = $("offer").getAttribute("data-contact-id");
    if (!id) return;
    $("offer-accept").disabled = true;
    api("POST", "/offers/" + encodeURIComponent(id) + "/accept").then(function (ctx) {
      contexts[id] = ctx;
      show($("offer"), false);
      selected = null;
      select(id);
    }).catch(function (err) { showError(err.message); })
      .then(function () { $("offer-accept").disabled = false; });
  }

  function reject() {
    var id = $("offer").getAttribute("data-contact-id");
    if (!id) return;
    api("POST", "/offers/" + encodeURIComponent(id) + "/reject").then(function (v) { view = v; renderView(v); })
      .catch(function (err) { showError(err.message); });
  }

  function sendMessage(ev) {
    ev.preventDefault();
    var box = $("chat-input");
    var text = box.value.trim();
    var id = selected;
    if (!text || !id) return;
    box.value = "";
    api("POST", "/contacts/" + encodeURIComponent(id) + "/messages", { text: text }).then(function (m) {
      addMessage(id, { seq: m.seq, role: "agent", text: m.text, name: m.name });
    }).catch(function (err) { box.value = text; showError(err.message); });
  }

  function finish() {
    var id = selected;
    if (!id) return;
    api("POST", "/contacts/" + encodeURIComponent(id) + "/finish").then(function (v) {
      view = v;
      renderView(v);
      loadContext(id);
      $("wrapup-code").focus();
    }).catch(function (err) { showError(err.message); });
  }

  function renderWrapupCodes() {
    var sel = $("wrapup-code");
    var current = sel.value;
    clear(sel);
    (codes.wrapup || []).forEach(function (c) {
      var op = el("option", null, lang === "en" ? c.title_en : c.title_zh);
      op.value = c.code;
      sel.appendChild(op);
    });
    if (current) sel.value = current;
  }

  function wrapup(ev) {
    ev.preventDefault();
    var id = selected;
    if (!id) return;
    api("POST", "/contacts/" + encodeURIComponent(id) + "/wrapup",
        { code: $("wrapup-code").value, notes: $("wrapup-notes").value }).then(function (v) {
      $("wrapup-notes").value = "";
      delete contexts[id];
      view = v;
      renderView(v);
    }).catch(function (err) { showError(err.message); });
  }

  function loadCanned() {
    var box = $("canned");
    clear(box);
    if (!me || !selected) return;
    var id = selected;
    api("GET", "/canned?contact_id=" + encodeURIComponent(id)).then(function (list) {
      if (selected !== id) return;
      clear(box);
      list.forEach(function (r) {
        var b = el("button", "canned-reply", r.title);
        b.type = "button";
        b.title = r.text;
        b.setAttribute("data-canned", r.id);
        b.addEventListener("click", function () {
          var input = $("chat-input");
          input.value = input.value ? input.value + r.text : r.text;
          input.focus();
        });
        box.appendChild(b);
      });
    }).catch(function () {});
  }

  function openTransfer() {
    if (!selected) return;
    var dlg = $("transfer-dialog");
    show($("transfer-error"), false);
    Promise.all([api("GET", "/queues"), api("GET", "/agents")]).then(function (res) {
      var qs = $("transfer-queue"), as = $("transfer-agent");
      clear(qs);
      clear(as);
      var none = el("option", null, t("chooseQueue")); none.value = ""; qs.appendChild(none);
      res[0].forEach(function (q) {
        var op = el("option", null, (lang === "en" ? q.title_en : q.title_zh) + "（" + q.waiting + "）");
        op.value = q.name;
        qs.appendChild(op);
      });
      var none2 = el("option", null, t("chooseAgent")); none2.value = ""; as.appendChild(none2);
      res[1].filter(function (a) { return !me || a.login !== me.login; }).forEach(function (a) {
        var op = el("option", null, a.name + "（" + a.login + "，" + t("state_" + a.state) + "）");
        op.value = a.login;
        as.appendChild(op);
      });
      if (typeof dlg.showModal === "function") dlg.showModal(); else dlg.setAttribute("open", "");
    }).catch(function (err) { showError(err.message); });
  }

  function closeTransfer() {
    var dlg = $("transfer-dialog");
    if (typeof dlg.close === "function") dlg.close(); else dlg.removeAttribute("open");
  }

  function submitTransfer(ev) {
    ev.preventDefault();
    var id = selected;
    var queue = $("transfer-queue").value, agent = $("transfer-agent").value;
    var box = $("transfer-error");
    if (!id || (!queue && !agent) || (queue && agent)) {
      box.textContent = lang === "en" ? "Choose a queue or an agent (one of them)." : "请选择队列或客服（二选一）。";
      show(box, true);
      return;
    }
    api("POST", "/contacts/" + encodeURIComponent(id) + "/transfer", queue ? { queue: queue } : { agent: agent })
      .then(function (v) { closeTransfer(); delete contexts[id]; view = v; renderView(v); })
      .catch(function (err) { box.textContent = err.message; show(box, true); });
  }

  // ------------------------------------------------------------------ start
  function init() {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("presence-select").addEventListener("change", setPresence);
    $("offer-accept").addEventListener("click", accept);
    $("offer-reject").addEventListener("click", reject);
    $("chat-form").addEventListener("submit", sendMessage);
    $("chat-input").addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        sendMessage(ev);
      }
    });
    $("finish").addEventListener("click", finish);
    $("wrapup").addEventListener("submit", wrapup);
    $("transfer").addEventListener("click", openTransfer);
    $("transfer-form").addEventListener("submit", submitTransfer);
    $("transfer-cancel").addEventListener("click", closeTransfer);
    $("lang-toggle").addEventListener("click", function () {
      lang = lang === "en" ? "zh" : "en";
      localStorage.setItem(KEY + "lang", lang);
      applyLanguage();
    });
    applyLanguage();
    api("GET", "/me").then(function (data) {
      view = data.view;
      signedIn(data.agent);
      renderView(view);
    }).catch(signedOut);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
