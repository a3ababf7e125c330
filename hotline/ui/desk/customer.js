/* 客户信息面板 · Customer panel of the agent desktop — renders into <section id="customer-panel">.
 *
 *   window.CustomerPanel.show({contactId, msisdn, conversationId})   the customer of a contact
 *   window.CustomerPanel.clear()                                     nothing shown, nothing kept
 *
 * Talks to /api/v1/desk/customers/{msisdn}/... and /api/v1/desk/tickets with the desk session cookie.
 * Name and ID number arrive masked; 查看 asks for a reason and shows the clear value of that one field
 * (the server audits it) until the next view, clear() or one minute, whichever comes first: it is never
 * stored anywhere. Protected businesses need the customer verified first (小贝's verification, the
 * service password, or an SMS code). Each business form carries its own idempotency key, so a double
 * click on 确认办理 runs the business once. Labels follow document.documentElement.lang (zh unless "en…"),
 * also when the desk switches language while a customer is shown.
 * Plain DOM, no dependencies; server text is only ever set as textContent.
 *
 * Stable ids (for tests):
 *   #cp-msisdn-input #cp-msisdn-submit   look a customer up when the contact has no number
 *   #cp-error                            the panel's error line
 *   #cp-name #cp-id-number               masked name / ID number (clear after an unmask)
 *   #cp-unmask-name #cp-unmask-id-number 查看 buttons opening the reason box
 *   #cp-unmask-reason #cp-unmask-note #cp-unmask-submit #cp-unmask-cancel   the reason box
 *   #cp-verify-method #cp-verify-input #cp-verify-send #cp-verify-submit #cp-verify-status
 *   #cp-business-search #cp-business-list (buttons carry data-code) #cp-business-form
 *   #cp-run (preview) #cp-confirm-text #cp-confirm #cp-cancel #cp-result
 *   #cp-ticket-category #cp-ticket-priority #cp-ticket-summary #cp-ticket-detail #cp-ticket-submit
 *   #cp-ticket-result #cp-tickets
 */
(function () {
  "use strict";

  var API = "/api/v1/desk";
  var UNMASK_MS = 60000;      // a clear value is shown this long at most
  var SEARCH_DELAY_MS = 250;

  var state = null;           // {contactId, msisdn, conversationId, view, gen}
  var generation = 0;         // answers for an earlier customer are dropped
  var timers = [];
  var cssLoaded = false;
  var langWatched = false;

  // ------------------------------------------------------------------ small helpers
  function en() { return (document.documentElement.lang || "").toLowerCase().indexOf("en") === 0; }
  function L(zh, eng) { return en() ? eng : zh; }
  function pick(o, base) { return o ? (en() ? o[base + "_en"] : o[base + "_zh"]) || o[base + "_zh"] || "" : ""; }
  function root() { return document.getElementById("customer-panel"); }

  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") n.textContent = v;
      else if (k === "on") Object.keys(v).forEach(function (ev) { n.addEventListener(ev, v[ev]); });
      else if (k === "className") n.className = v;
      else n.setAttribute(k, v === true ? "" : v);
    });
    (kids || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      n.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return n;
  }

  function yuan(fen) {
    var sign = fen < 0 ? "-" : "", a = Math.abs(fen);
    return sign + Math.floor(a / 100) + "." + String(a % 100).padStart(2, "0");
  }
  function money(fen) { return fen === null || fen === undefined ? "" : L(yuan(fen) + "元", "¥" + yuan(fen)); }
  function size(mb) { return mb >= 1024 ? (mb / 1024).toFixed(mb % 1024 ? 2 : 0) + "GB" : mb + "MB"; }
  function when(iso) { return iso ? String(iso).replace("T", " ").slice(0, 16) : ""; }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return "cp-" + crypto.randomUUID();
    return "cp-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function loadCss() {
    if (cssLoaded) return;
    cssLoaded = true;
    var me = document.querySelector('script[src$="customer.js"]');
    if (!me || document.querySelector('link[href$="customer.css"]')) return;
    document.head.appendChild(el("link", {rel: "stylesheet", href: me.getAttribute("src").replace(/\.js$/, ".css")}));
  }

  // The desk switches language in place: the panel follows (clear values go back to masked).
  function watchLang() {
    if (langWatched || !window.MutationObserver) return;
    langWatched = true;
    new MutationObserver(function () {
      if (!state) return;
      stopTimers();
      if (state.view) render();
      else if (!state.msisdn) renderLookup();
    }).observe(document.documentElement, {attributes: true, attributeFilter: ["lang"]});
  }

  function errorText(body, status) {
    var e = body && body.error;
    if (e) return en() ? e.message_en : e.message_zh;
    if (status === 401) return L("登录已过期，请重新登录。", "Your session ended; please sign in again.");
    return L("请求失败，请稍后再试。", "The request failed; please try again.");
  }

  function call(method, path, body) {
    var opts = {method: method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new Error(errorText(data, r.status));
          err.status = r.status;
          err.code = data && data.error && data.error.code;
          throw err;
        }
        return data;
      });
    });
  }

  function customerPath(rest) { return "/customers/" + encodeURIComponent(state.msisdn) + (rest || ""); }
  // Every action on the customer names the contact being served: the server acts only inside it.
  function inContact(path) {
    if (!state.contactId) return path;
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "contact_id=" + encodeURIComponent(state.contactId);
  }
  function live(gen) { return state && state.gen === gen; }

  function setText(id, text, isError) {
    var n = document.getElementById(id);
    if (!n) return;
    n.textContent = text || "";
    n.classList.toggle("cp-bad", !!isError);
  }

  function later(fn, ms) { timers.push(setTimeout(fn, ms)); }
  function stopTimers() { timers.forEach(clearTimeout); timers = []; }

  // ------------------------------------------------------------------ public API
  function clear() {
    generation += 1;
    stopTimers();
    state = null;
    var r = root();
    if (r) r.textContent = "";
  }

  function show(opts) {
    opts = opts || {};
    loadCss();
    watchLang();
    clear();
    var r = root();
    if (!r) return;
    state = {contactId: opts.contactId || null, msisdn: opts.msisdn || null,
             conversationId: opts.conversationId || null, view: null, gen: generation};
    if (!state.msisdn) { renderLookup(); return; }
    load();
  }

  function load() {
    var gen = state.gen, r = root();
    r.textContent = "";
    r.appendChild(el("p", {className: "cp-muted", text: L("正在加载客户信息…", "Loading the customer…")}));
    var q = [];
    if (state.contactId) q.push("contact_id=" + encodeURIComponent(state.contactId));
    if (state.conversationId) q.push("conversation_id=" + encodeURIComponent(state.conversationId));
    call("GET", customerPath(q.length ? "?" + q.join("&") : "")).then(function (view) {
      if (!live(gen)) return;
      state.view = view;
      render();
    }).catch(function (e) {
      if (!live(gen)) return;
      r.textContent = "";
      if (state.msisdn) renderLookup();
      setText("cp-error", e.message, true);
    });
  }

  // ------------------------------------------------------------------ no number yet
  function renderLookup() {
    var r = root();
    r.textContent = "";
    var input = el("input", {id: "cp-msisdn-input", type: "tel", inputmode: "numeric", maxlength: "20",
                             placeholder: L("客户手机号码", "Customer's mobile number"),
                             value: state && state.msisdn ? state.msisdn : null});
    var go = function () {
      var v = input.value.replace(/[\s-]/g, "");
      if (!/^(\+?86)?1\d{10}$/.test(v)) {
        setText("cp-error", L("请输入11位手机号码。", "Enter an 11-digit mobile number."), true);
        return;
      }
      state.msisdn = v.slice(-11);
      load();
    };
    input.addEventListener("keydown", function (ev) { if (ev.key === "Enter") go(); });
    r.appendChild(el("div", {className: "cp-card"}, [
      el("h3", {text: L("客户信息", "Customer")}),
      el("p", {className: "cp-muted", text: L("该会话尚未关联号码，请输入客户号码查询。",
                                              "This contact has no number yet: enter the customer's number.")}),
      el("div", {className: "cp-row"}, [input, el("button", {id: "cp-msisdn-submit", type: "button",
                                                             text: L("查询", "Look up"), on: {click: go}})]),
      el("p", {id: "cp-error", className: "cp-error", role: "alert"})
    ]));
  }

  // ------------------------------------------------------------------ the view
  function render() {
    var v = state.view, r = root();
    r.textContent = "";
    r.appendChild(el("p", {id: "cp-error", className: "cp-error", role: "alert"}));
    r.appendChild(identityCard(v));
    r.appendChild(accountCard(v));
    r.appendChild(verifyCard(v));
    r.appendChild(businessCard());
    r.appendChild(ticketCard(v));
    r.appendChild(historyCard(v));
  }

  function field(label, valueNode) {
    return el("div", {className: "cp-field"}, [el("span", {className: "cp-label", text: label}), valueNode]);
  }

  function identityCard(v) {
    var star = v.star_level || {};
    var vip = star.vip ? el("span", {className: "cp-badge cp-vip", text: "VIP"}) : null;
    return el("div", {className: "cp-card"}, [
      el("h3", {text: L("客户信息", "Customer") + " · " + v.msisdn}),
      field(L("姓名", "Name"), el("span", {}, [
        el("span", {id: "cp-name", className: "cp-masked", text: v.name}), " ",
        el("button", {id: "cp-unmask-name", type: "button", className: "cp-link", text: L("查看", "Show"),
                      on: {click: function () { unmaskBox("name"); }}})])),
      field(L("证件号码", "ID number"), el("span", {}, [
        el("span", {id: "cp-id-number", className: "cp-masked", text: v.id_number}), " ",
        el("button", {id: "cp-unmask-id-number", type: "button", className: "cp-link", text: L("查看", "Show"),
                      on: {click: function () { unmaskBox("id_number"); }}})])),
      el("div", {id: "cp-unmask-box"}),
      field(L("品牌", "Brand"), el("span", {text: pick(v.brand, "name")})),
      field(L("星级", "Star level"), el("span", {}, [pick(star, "name") + " ", vip])),
      field(L("状态", "Status"), el("span", {className: v.status && v.status.code === "active" ? "" : "cp-warn",
                                               text: pick(v.status, "name")})),
      field(L("归属地", "Home area"), el("span", {text: pick(v.province, "name") + " " + (v.city || "")})),
      field(L("入网时间", "Customer since"), el("span", {text: v.join_date || ""}))
    ]);
  }

  function unmaskBox(which) {
    var box = document.getElementById("cp-unmask-box");
    box.textContent = "";
    var reasons = el("select", {id: "cp-unmask-reason"},
      [el("option", {value: "", text: L("请选择查看原因", "Choose a reason")})].concat(
        (state.view.unmask_reasons || []).map(function (r) {
          return el("option", {value: r.code, text: en() ? r.en : r.zh});
        })));
    var note = el("input", {id: "cp-unmask-note", type: "text", maxlength: "200",
                            placeholder: L("补充说明（选“其他”时必填）", "Explain (required with 'Other')")});
    var msg = el("p", {className: "cp-error", role: "alert"});
    var submit = el("button", {id: "cp-unmask-submit", type: "button", text: L("确认查看", "Show it"),
      on: {click: function () {
        if (!reasons.value) { msg.textContent = L("请先选择查看原因。", "Choose a reason first."); return; }
        var gen = state.gen;
        submit.disabled = true;
        call("POST", customerPath("/unmask"), {field: which, reason: reasons.value, note: note.value,
                                               contact_id: state.contactId}).then(function (got) {
          if (!live(gen)) return;
          box.textContent = "";
          var target = document.getElementById(which === "name" ? "cp-name" : "cp-id-number");
          target.textContent = got.value;
          target.classList.remove("cp-masked");
          target.classList.add("cp-clear");
          later(function () {   // shown for a while only
            if (!live(gen)) return;
            target.textContent = got.masked;
            target.classList.add("cp-masked");
            target.classList.remove("cp-clear");
          }, UNMASK_MS);
          got = null;
        }).catch(function (e) {
          if (!live(gen)) return;
          submit.disabled = false;
          msg.textContent = e.message;
        });
      }}});
    var cancel = el("button", {id: "cp-unmask-cancel", type: "button", className: "cp-link", text: L("取消", "Cancel"),
                               on: {click: function () { box.textContent = ""; }}});
    box.appendChild(el("div", {className: "cp-inline"}, [
      el("p", {className: "cp-muted", text: L("查看完整个人信息将被记录审计。", "Showing personal data is audited.")}),
      reasons, note, submit, cancel, msg]));
    reasons.focus();
  }

  function accountCard(v) {
    var usage = v.usage || {};
    function use(bucket, fmt, labelZh, labelEn) {
      var u = usage[bucket];
      if (!u) return null;
      return field(L(labelZh, labelEn), el("span", {text: fmt(u.used) + " / " + fmt(u.included)}));
    }
    var subs = (v.subscriptions || []).filter(function (s) { return s.end_cycle === null || s.end_cycle >= v.cycle; });
    var packs = subs.filter(function (s) { return s.kind === "data_pack" || s.kind === "voice_pack"; });
    var services = subs.filter(function (s) { return s.kind === "vas" || s.kind === "feature"; });
    function list(items) {
      if (!items.length) return el("span", {className: "cp-muted", text: L("无", "none")});
      return el("ul", {className: "cp-list"}, items.map(function (s) {
        return el("li", {text: pick(s, "name") + (s.in_plan ? L("（套餐内）", " (in plan)") : "") +
                               (s.fee_fen && !s.in_plan ? " " + money(s.fee_fen) : "")});
      }));
    }
    var bills = (v.bills || []).map(function (b) {
      return el("li", {text: String(b.cycle).slice(0, 4) + "-" + String(b.cycle).slice(4) + "  " + money(b.total_fen)});
    });
    return el("div", {className: "cp-card"}, [
      el("h3", {text: L("账户", "Account")}),
      field(L("套餐", "Plan"), el("span", {text: pick(v.plan, "name") + (v.next_plan ? " → " + pick(v.next_plan, "name") : "")})),
      field(L("余额", "Balance"), el("span", {id: "cp-balance", className: v.balance_fen < 0 ? "cp-warn" : "",
                                               text: money(v.balance_fen)})),
      v.credit_limit_fen ? field(L("信用额度", "Credit limit"), el("span", {text: money(v.credit_limit_fen)})) : null,
      field(L("本月消费", "Charges this month"), el("span", {text: money(v.charges_this_cycle_fen)})),
      field(L("积分", "Points"), el("span", {text: String(v.points)})),
      use("voice_min", function (x) { return x + L("分钟", " min"); }, "本月通话", "Calls this month"),
      use("data_mb", size, "本月流量", "Data this month"),
      use("sms", function (x) { return x + L("条", ""); }, "本月短信", "SMS this month"),
      field(L("流量/语音包", "Packs"), list(packs)),
      field(L("增值业务与功能", "Services"), list(services)),
      field(L("近期账单", "Recent bills"), bills.length ? el("ul", {className: "cp-list"}, bills)
        : el("span", {className: "cp-muted", text: L("无", "none")}))
    ]);
  }

  // ------------------------------------------------------------------ verification
  function verifiedText(ver) {
    if (!ver || !ver.verified) return L("未验证", "Not verified");
    return L("已验证（" + ver.method_zh + "），有效至 " + when(ver.until).slice(11),
             "Verified (" + ver.method_en + ") until " + when(ver.until).slice(11));
  }

  function verifyCard(v) {
    var methods = (v.verify_methods || []).filter(function (m) {
      return m.code !== "conversation" || state.conversationId;
    });
    var method = el("select", {id: "cp-verify-method"}, methods.map(function (m) {
      return el("option", {value: m.code, text: (en() ? m.en : m.zh) +
        (m.code === "conversation" && v.conversation_verified ? " ✓" : "")});
    }));
    if (state.conversationId && v.conversation_verified) method.value = "conversation";
    else if (methods.some(function (m) { return m.code === "password"; })) method.value = "password";
    var input = el("input", {id: "cp-verify-input", type: "password", inputmode: "numeric", maxlength: "8",
                             autocomplete: "off"});
    var send = el("button", {id: "cp-verify-send", type: "button", text: L("发送验证码", "Send code")});
    var submit = el("button", {id: "cp-verify-submit", type: "button", text: L("验证", "Verify")});
    var status = el("p", {id: "cp-verify-status", role: "status", text: verifiedText(v.verification),
                          className: v.verification && v.verification.verified ? "cp-ok" : "cp-muted"});
    var locked = v.password && v.password.locked_today;
    function adapt() {
      var m = method.value;
      input.hidden = m === "conversation";
      send.hidden = m !== "otp";
      input.value = "";
      input.placeholder = m === "password" ? L("客户提供的服务密码", "Service password from the customer")
        : L("客户读出的6位验证码", "6-digit code the customer reads out");
      input.type = m === "password" ? "password" : "text";
      submit.disabled = m === "password" && locked;
      if (m === "password" && locked) {
        status.textContent = L("服务密码今日已锁定，请改用短信验证码。", "The password is locked today; use an SMS code.");
      }
    }
    method.addEventListener("change", adapt);
    send.addEventListener("click", function () {
      var gen = state.gen;
      send.disabled = true;
      call("POST", customerPath("/verification/code"), {contact_id: state.contactId}).then(function (r) {
        if (!live(gen)) return;
        status.className = "cp-muted";
        status.textContent = L("验证码已发送至 " + r.sent_to + "，请客户读出收到的6位验证码。",
                               "Code sent to " + r.sent_to + "; ask the customer to read it out.");
        later(function () { send.disabled = false; }, 60000);
        input.focus();
      }).catch(function (e) {
        if (!live(gen)) return;
        send.disabled = false;
        status.className = "cp-bad";
        status.textContent = e.message;
      });
    });
    submit.addEventListener("click", function () {
      var gen = state.gen, m = method.value;
      if (m !== "conversation" && !input.value.trim()) { input.focus(); return; }
      submit.disabled = true;
      call("POST", customerPath("/verification"), {method: m, secret: m === "conversation" ? "" : input.value,
        conversation_id: state.conversationId, contact_id: state.contactId}).then(function (ver) {
        if (!live(gen)) return;
        input.value = "";
        state.view.verification = ver;
        status.className = "cp-ok";
        status.textContent = verifiedText(ver);
        submit.disabled = false;
      }).catch(function (e) {
        if (!live(gen)) return;
        input.value = "";
        submit.disabled = false;
        status.className = "cp-bad";
        status.textContent = e.message;
        if (e.code === "password_locked") { locked = true; adapt(); status.textContent = e.message; }
      });
    });
    input.addEventListener("keydown", function (ev) { if (ev.key === "Enter") submit.click(); });
    adapt();
    if (v.verification && v.verification.verified) status.textContent = verifiedText(v.verification);
    return el("div", {className: "cp-card"}, [
      el("h3", {text: L("身份验证", "Verification")}),
      el("div", {className: "cp-row"}, [method, input, send, submit]),
      status
    ]);
  }

  // ------------------------------------------------------------------ businesses
  function businessCard() {
    var search = el("input", {id: "cp-business-search", type: "search", maxlength: "40",
                              placeholder: L("搜索业务名称或编码", "Search businesses by name or code")});
    var list = el("div", {id: "cp-business-list", className: "cp-business-list"});
    var form = el("div", {id: "cp-business-form"});
    var pending = null;
    search.addEventListener("input", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { loadBusinesses(search.value.trim(), list, form); }, SEARCH_DELAY_MS);
    });
    loadBusinesses("", list, form);
    return el("div", {className: "cp-card"}, [el("h3", {text: L("业务办理", "Businesses")}), search, list, form]);
  }

  function loadBusinesses(q, list, form) {
    var gen = state.gen;
    call("GET", customerPath("/businesses" + (q ? "?q=" + encodeURIComponent(q) : ""))).then(function (groups) {
      if (!live(gen)) return;
      list.textContent = "";
      if (!groups.length) {
        list.appendChild(el("p", {className: "cp-muted", text: L("没有找到相关业务。", "No business matches.")}));
        return;
      }
      groups.forEach(function (g) {
        var items = g.businesses.map(function (b) {
          return el("li", {}, [el("button", {type: "button", className: "cp-business", "data-code": b.code,
            text: pick(b, "name") + (b.protected ? " 🔒" : ""), title: b.code,
            on: {click: function () { openBusiness(b.code, form); }}})]);
        });
        list.appendChild(el("details", {open: q ? true : null}, [
          el("summary", {text: pick(g, "name") + " (" + g.businesses.length + ")"}),
          el("ul", {className: "cp-list"}, items)]));
      });
    }).catch(function (e) {
      if (live(gen)) setText("cp-error", e.message, true);
    });
  }

  function openBusiness(code, form) {
    var gen = state.gen;
    form.textContent = "";
    call("GET", inContact(customerPath("/businesses/" + encodeURIComponent(code)))).then(function (b) {
      if (!live(gen)) return;
      renderForm(b, form);
    }).catch(function (e) {
      if (!live(gen)) return;
      form.appendChild(el("p", {className: "cp-error", text: e.message}));
    });
  }

  function renderForm(b, form) {
    form.textContent = "";
    var key = newKey();
    form.appendChild(el("h4", {text: pick(b, "name") + "  " + b.code}));
    if (b.consultation) {
      form.appendChild(el("p", {className: "cp-muted", text: L("请向客户宣读：", "Read this to the customer:")}));
      form.appendChild(el("div", {className: "cp-article", text: en() ? b.article_en : b.article_zh}));
      return;
    }
    if (b.protected) {
      var ok = b.verification && b.verification.verified;
      form.appendChild(el("p", {className: ok ? "cp-ok" : "cp-warn", text: ok ? verifiedText(b.verification)
        : L("该业务需先验证客户身份。", "Verify the customer before this business.")}));
    }
    var inputs = {};
    b.slots.forEach(function (s) {
      var id = "cp-slot-" + s.name, control;
      if (s.choices && s.choices.length) {
        var first = s.fixed ? [] : [el("option", {value: "", text: s.required ? L("请选择", "Choose") : L("（不选）", "(none)")})];
        control = el("select", {id: id, disabled: s.fixed || null}, first.concat(s.choices.map(function (c) {
          return el("option", {value: c.value, text: en() ? c.label_en : c.label_zh});
        })));
      } else {
        control = el("input", {id: id, type: s.type === "password" ? "password" : "text", autocomplete: "off",
                               placeholder: pick(s, "prompt") || null, value: s.fixed ? s.value : null,
                               disabled: s.fixed || null});
      }
      control.addEventListener("change", function () { key = newKey(); });   // another request, another key
      inputs[s.name] = control;
      form.appendChild(el("label", {className: "cp-field", "for": id}, [
        el("span", {className: "cp-label", text: pick(s, "label") + (s.required && !s.fixed ? " *" : "")}), control]));
    });
    var result = el("div", {id: "cp-result", role: "status", "aria-live": "polite"});
    var confirmBox = el("div", {className: "cp-inline", hidden: true});
    function params() {
      var out = {};
      Object.keys(inputs).forEach(function (k) {
        var c = inputs[k];
        if (!c.disabled && c.value !== "") out[k] = c.value;
      });
      return out;
    }
    var run = el("button", {id: "cp-run", type: "button", text: L("办理", "Run")});
    run.addEventListener("click", function () {
      var gen = state.gen;
      result.textContent = "";
      run.disabled = true;
      call("POST", customerPath("/businesses/" + encodeURIComponent(b.code) + "/preview"),
           {params: params(), key: key, lang: en() ? "en" : "zh", contact_id: state.contactId}).then(function (p) {
        if (!live(gen)) return;
        run.disabled = false;
        confirmBox.textContent = "";
        confirmBox.hidden = false;
        var confirm = el("button", {id: "cp-confirm", type: "button", text: L("确认办理", "Confirm")});
        var cancel = el("button", {id: "cp-cancel", type: "button", className: "cp-link", text: L("取消", "Cancel"),
                                   on: {click: function () { confirmBox.hidden = true; }}});
        confirm.addEventListener("click", function () {
          confirm.disabled = true;
          call("POST", customerPath("/businesses/" + encodeURIComponent(b.code) + "/run"),
               {params: params(), key: key, lang: en() ? "en" : "zh", contact_id: state.contactId}).then(function (r) {
            if (!live(gen)) return;
            confirmBox.hidden = true;
            showResult(result, r.texts, false);
            key = newKey();   // the next run is a new request
          }).catch(function (e) {
            if (!live(gen)) return;
            confirm.disabled = false;
            confirmBox.hidden = true;
            showResult(result, [e.message], true);
          });
        });
        confirmBox.appendChild(el("p", {id: "cp-confirm-text", text: en() ? p.confirm_en : p.confirm_zh}));
        confirmBox.appendChild(confirm);
        confirmBox.appendChild(cancel);
        confirm.focus();
      }).catch(function (e) {
        if (!live(gen)) return;
        run.disabled = false;
        showResult(result, [e.message], true);
      });
    });
    form.appendChild(run);
    form.appendChild(confirmBox);
    form.appendChild(result);
  }

  function showResult(node, texts, bad) {
    node.textContent = "";
    node.className = bad ? "cp-result cp-bad" : "cp-result cp-ok";
    (texts || []).forEach(function (t) { node.appendChild(el("p", {text: t})); });
  }

  // ------------------------------------------------------------------ tickets
  var CATEGORIES = [["complaint", "投诉", "Complaint"], ["fault", "故障", "Fault"],
                    ["suggestion", "建议", "Suggestion"], ["inquiry", "咨询", "Inquiry"]];
  var PRIORITIES = [["normal", "普通", "Normal"], ["high", "较高", "High"], ["urgent", "紧急", "Urgent"]];

  function options(id, rows) {
    return el("select", {id: id}, rows.map(function (r) { return el("option", {value: r[0], text: en() ? r[2] : r[1]}); }));
  }

  function ticketList(tickets) {
    if (!tickets || !tickets.length) return el("p", {className: "cp-muted", text: L("暂无工单", "No tickets")});
    return el("ul", {className: "cp-list"}, tickets.map(function (t) {
      return el("li", {text: t.reference + "  " + pick(t, "category") + "  " + t.summary + "  " + pick(t, "status")});
    }));
  }

  function ticketCard(v) {
    var key = newKey();
    var category = options("cp-ticket-category", CATEGORIES);
    var priority = options("cp-ticket-priority", PRIORITIES);
    var summary = el("input", {id: "cp-ticket-summary", type: "text", maxlength: "200",
                               placeholder: L("摘要（必填）", "Summary (required)")});
    var detail = el("textarea", {id: "cp-ticket-detail", rows: "3", maxlength: "4000",
                                 placeholder: L("详细情况", "Details")});
    var out = el("p", {id: "cp-ticket-result", role: "status"});
    var listBox = el("div", {id: "cp-tickets"}, [ticketList(v.tickets)]);
    [category, priority, summary, detail].forEach(function (c) { c.addEventListener("change", function () { key = newKey(); }); });
    var submit = el("button", {id: "cp-ticket-submit", type: "button", text: L("提交工单", "Open ticket")});
    submit.addEventListener("click", function () {
      var gen = state.gen;
      if (summary.value.trim().length < 2) {
        out.className = "cp-bad";
        out.textContent = L("请填写工单摘要。", "Give the ticket a summary.");
        summary.focus();
        return;
      }
      submit.disabled = true;
      call("POST", "/tickets", {msisdn: state.msisdn, contact_id: state.contactId,
        conversation_id: state.conversationId, category: category.value, priority: priority.value,
        summary: summary.value, detail: detail.value, key: key}).then(function (t) {
        if (!live(gen)) return;
        submit.disabled = false;
        out.className = "cp-ok";
        out.textContent = L("工单已提交，编号 " + t.reference + "，请告知客户。",
                            "Ticket opened: " + t.reference + " — tell the customer.");
        summary.value = "";
        detail.value = "";
        key = newKey();
        return call("GET", inContact(customerPath("/tickets"))).then(function (ts) {
          if (!live(gen)) return;
          listBox.textContent = "";
          listBox.appendChild(ticketList(ts.slice(0, 5)));
        });
      }).catch(function (e) {
        if (!live(gen)) return;
        submit.disabled = false;
        out.className = "cp-bad";
        out.textContent = e.message;
      });
    });
    return el("div", {className: "cp-card"}, [
      el("h3", {text: L("工单", "Tickets")}),
      el("div", {className: "cp-row"}, [category, priority]),
      summary, detail, submit, out, listBox
    ]);
  }

  // ------------------------------------------------------------------ history
  function historyCard(v) {
    function section(title, rows, line) {
      return el("div", {}, [el("h4", {text: title}), rows && rows.length
        ? el("ul", {className: "cp-list"}, rows.map(function (r) { return el("li", {text: line(r)}); }))
        : el("p", {className: "cp-muted", text: L("无", "none")})]);
    }
    return el("div", {className: "cp-card"}, [
      el("h3", {text: L("近期记录", "History")}),
      section(L("最近订单", "Recent orders"), v.recent_orders, function (o) {
        return when(o.at) + "  " + o.kind + (o.product ? " " + o.product : "") + "  " +
          (o.status === "completed" ? L("成功", "done") : L("失败", "failed")) +
          (o.amount_fen ? "  " + money(o.amount_fen) : "") + "  " + o.channel;
      }),
      section(L("服务请求", "Service requests"), v.service_requests, function (s) {
        return when(s.created_at) + "  " + s.reference + "  " + pick(s, "business") + "  " + s.status;
      }),
      section(L("近期会话", "Recent conversations"), v.conversations, function (c) {
        return when(c.updated_at) + "  " + c.channel + (c.business ? "  " + c.business : "") +
          (c.handed_off ? L("  已转人工", "  handed off") : "");
      }),
      section(L("转人工记录", "Hand-offs"), v.handoffs, function (h) {
        return when(h.created_at) + "  " + h.reason + (h.priority ? L("（优先）", " (priority)") : "") +
          (h.business ? "  " + h.business : "") + "  " + h.status;
      })
    ]);
  }

  window.CustomerPanel = {show: show, clear: clear};
})();
