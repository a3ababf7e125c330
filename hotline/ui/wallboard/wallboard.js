/* 客服监控大屏 — the supervisor wallboard.
 *
 * Stable element ids (tests and operators rely on them):
 *   #wb-waiting    contacts in queue now (all queues)            data-value = the raw number
 *   #wb-longest    longest current wait, seconds                 data-value
 *   #wb-sl         service level today (ratio 0..1)              data-value
 *   #wb-asa        average speed of answer today, seconds        data-value
 *   #wb-aht        average handle time today, seconds            data-value
 *   #wb-abandon    abandonment rate today (ratio)                data-value
 *   #wb-occupancy  occupancy today (ratio)                       data-value
 *   #wb-handled    contacts handled today                        data-value
 *   #wb-short      agents short now (Erlang C)                   data-value
 *   #wb-queues     per-queue table: one <tr data-queue="name"> per queue
 *   #wb-agents     agents by state: <li data-state="busy"> counts, then one <tr data-agent="id"> per agent
 *   #wb-intervals  interval report table: <tr data-queue="name|ALL" data-start="ISO">
 *   #wb-csv        the CSV download link of the report form's current choice
 *   #wb-status     connection / sign-in state (data-state: online | connecting | offline | login | forbidden)
 *
 * Every figure's formula (zh + en) comes from the API (`metrics`) and shows on hover (title attribute);
 * each tile links to help.html. GET /api/v1/wallboard/live is polled every 2 s with the desk session
 * cookie; a 401 asks to sign in at the desk, a 403 says the role is missing. Plain DOM, no dependencies;
 * server text is only ever set as textContent.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var LIVE = meta("hotline-live", "/api/v1/wallboard/live");
  var INTERVALS = meta("hotline-intervals", "/api/v1/wallboard/intervals");
  var STATES = ["available", "offered", "busy", "wrap_up", "break", "offline"];

  var TEXT = {
    zh: {
      brand: "中国移动", title: "客服监控大屏", pageTitle: "中国移动 客服监控大屏",
      help: "指标说明", reportLink: "区间报表", langButton: "English", langLabel: "Switch to English",
      overall: "全部队列", queues: "各队列", agents: "座席状态", report: "区间报表",
      date: "日期", to: "至", interval: "间隔", minutes: "分钟", queue: "队列", allQueues: "全部",
      hideEmpty: "隐藏无进线的区间", show: "查询", csv: "下载 CSV",
      online: "实时更新中", connecting: "正在连接…", offline: "连接中断，正在重试…",
      login: "请先登录座席工作台（班长或管理员账号）后刷新本页。", loginLink: "前往登录",
      forbidden: "当前账号无权查看监控大屏：需要班长或管理员角色。",
      updated: "更新于 {t}", last30: "近30分钟 {v}", agentsLine: "在线座席 {n}",
      shortLine: "需要 {r} · 在岗 {s}", today: "今日", variant: "口径：",
      noRouter: "本进程未运行路由引擎：仅显示记录数据。",
      col: { queue: "队列", waiting: "排队", longest: "最长等待", sl: "服务水平", sl30: "服务水平(30分)",
             asa: "平均应答", aht: "平均处理", abandon: "放弃率", occupancy: "占用率", offered: "进线",
             answered: "接通", abandoned: "放弃", handled: "已处理", agents: "座席(空闲/通话/话后/小休)",
             short: "缺员", start: "开始", end: "结束", max_wait: "最长等待",
             agent: "工号", name: "姓名", state: "状态", reason: "原因", since: "持续", contacts: "进行中" },
      state: { available: "空闲", offered: "振铃", busy: "通话中", wrap_up: "话后处理", "break": "小休",
               offline: "离线" },
      sec: "{n}秒", minsec: "{m}分{s}秒", hour: "{h}时{m}分", none: "–", all: "合计",
      reportError: "报表查询失败：{e}"
    },
    en: {
      brand: "China Mobile", title: "Service wallboard", pageTitle: "China Mobile Service Wallboard",
      help: "Definitions", reportLink: "Interval report", langButton: "中文", langLabel: "切换到中文",
      overall: "All queues", queues: "Queues", agents: "Agents by state", report: "Interval report",
      date: "Date", to: "to", interval: "Interval", minutes: "min", queue: "Queue", allQueues: "All",
      hideEmpty: "Hide intervals without contacts", show: "Show", csv: "Download CSV",
      online: "Live", connecting: "Connecting…", offline: "Disconnected, retrying…",
      login: "Sign in at the agent desk (a supervisor or admin account), then reload this page.",
      loginLink: "Sign in", forbidden: "This account may not see the wallboard: it needs the supervisor or admin role.",
      updated: "Updated {t}", last30: "Last 30 min {v}", agentsLine: "{n} agents logged in",
      shortLine: "Need {r} · serving {s}", today: "Today", variant: "Definition: ",
      noRouter: "No routing engine in this process: figures from the records only.",
      col: { queue: "Queue", waiting: "Waiting", longest: "Longest wait", sl: "Service level", sl30: "SL (30 min)",
             asa: "ASA", aht: "AHT", abandon: "Abandoned %", occupancy: "Occupancy", offered: "Offered",
             answered: "Answered", abandoned: "Abandoned", handled: "Handled",
             agents: "Agents (avail/busy/wrap/break)", short: "Short", start: "Start", end: "End",
             max_wait: "Max wait", agent: "Login", name: "Name", state: "State", reason: "Reason",
             since: "For", contacts: "Active" },
      state: { available: "Available", offered: "Offered", busy: "Busy", wrap_up: "Wrap-up", "break": "Break",
               offline: "Offline" },
      sec: "{n} s", minsec: "{m}:{s}", hour: "{h} h {m} min", none: "–", all: "Total",
      reportError: "The report failed: {e}"
    }
  };

  // column -> metric key of its formula
  var QUEUE_COLS = [["queue", null], ["waiting", "waiting"], ["longest", "longest"], ["sl", "sl"], ["sl30", "sl"],
                    ["asa", "asa"], ["aht", "aht"], ["abandon", "abandon"], ["occupancy", "occupancy"],
                    ["handled", "handled"], ["agents", "agents"], ["short", "agents_short"]];
  var INTERVAL_COLS = [["start", null], ["queue", null], ["offered", "offered"], ["answered", "answered"],
                       ["abandoned", "abandoned"], ["sl", "sl"], ["asa", "asa"], ["aht", "aht"],
                       ["max_wait", "max_wait"], ["occupancy", "occupancy"]];
  var AGENT_COLS = ["agent", "name", "state", "reason", "since", "contacts"];

  var lang = "zh";
  try { lang = window.localStorage.getItem("hotline.wallboard.lang") === "en" ? "en" : "zh"; } catch (e) { /* private mode */ }
  var live = null;          // the last /live answer
  var report = null;        // the last /intervals answer
  var metrics = {};         // key -> {zh, en, formula_zh, formula_en}
  var timer = null;

  function meta(name, fallback) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return (m && m.getAttribute("content")) || fallback;
  }
  function $(id) { return document.getElementById(id); }
  function t(key) { return TEXT[lang][key]; }
  function fill(s, vars) { return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] == null ? "" : vars[k]; }); }
  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (attrs) Object.keys(attrs).forEach(function (k) { if (attrs[k] != null) e.setAttribute(k, attrs[k]); });
    return e;
  }

  // ------------------------------------------------------------------ formatting
  function num(v) { return v == null ? t("none") : String(v); }
  function pct(v) { return v == null ? t("none") : (v * 100).toFixed(1) + "%"; }
  function dur(v) {
    if (v == null) return t("none");
    var s = Math.round(v);
    if (s < 60) return fill(t("sec"), { n: s });
    if (s < 3600) {
      var m = Math.floor(s / 60), r = s % 60;
      return fill(t("minsec"), { m: m, s: lang === "en" && r < 10 ? "0" + r : r });
    }
    return fill(t("hour"), { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  }
  function name(key) { var m = metrics[key]; return m ? m[lang] : key; }
  function formula(key) {
    var m = metrics[key];
    return m ? m[lang] + (lang === "en" ? ": " : "：") + m["formula_" + lang] : "";
  }

  // ------------------------------------------------------------------ language
  function applyLang() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.title = t("pageTitle");
    document.querySelectorAll("[data-i18n]").forEach(function (e) {
      var v = TEXT[lang][e.getAttribute("data-i18n")];
      if (typeof v === "string") e.textContent = v;
    });
    var b = $("wb-lang");
    b.textContent = t("langButton");
    b.setAttribute("aria-label", t("langLabel"));
    b.title = t("langLabel");
    renderHeads();
    if (live) renderLive(live);
    if (report) renderReport(report);
  }

  function renderHeads() {
    head(document.querySelector("#wb-queues thead tr"), QUEUE_COLS);
    head(document.querySelector("#wb-intervals thead tr"), INTERVAL_COLS);
    var tr = document.querySelector("#wb-agents thead tr");
    tr.textContent = "";
    AGENT_COLS.forEach(function (c) { tr.appendChild(el("th", TEXT[lang].col[c], { scope: "col" })); });
  }
  function head(tr, cols) {
    tr.textContent = "";
    cols.forEach(function (c) {
      var th = el("th", TEXT[lang].col[c[0]], { scope: "col" });
      if (c[1]) { th.title = formula(c[1]); th.classList.add("has-formula"); }
      tr.appendChild(th);
    });
  }

  // ------------------------------------------------------------------ live
  function status(state, text, link) {
    var s = $("wb-status");
    s.setAttribute("data-state", state);
    s.textContent = text;
    if (link) {
      s.appendChild(document.createTextNode(" "));
      s.appendChild(el("a", t("loginLink"), { href: "/desk/" }));
    }
  }

  function poll() {
    clearTimeout(timer);
    fetch(LIVE, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { status("login", t("login"), true); return null; }
        if (r.status === 403) { status("forbidden", t("forbidden")); return null; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (body) {
        if (body) {
          live = body;
          metrics = body.metrics || metrics;
          status("online", body.router === false ? t("online") + " · " + t("noRouter") : t("online"));
          renderHeads();
          renderLive(body);
          initReportForm(body);
        }
        timer = setTimeout(poll, POLL_MS);
      })
      .catch(function () { status("offline", t("offline")); timer = setTimeout(poll, POLL_MS * 2); });
  }

  function tile(id, key, text, raw, sub) {
    var v = $(id);
    v.textContent = text;
    v.setAttribute("data-value", raw == null ? "" : String(raw));
    var a = v.parentNode;
    a.title = formula(key);
    a.querySelector(".label").textContent = name(key);
    a.querySelector(".sub").textContent = sub || "";
    return v;
  }

  function renderLive(d) {
    var o = d.overall, today = o.today, last = o.last_30;
    tile("wb-waiting", "waiting", num(o.waiting), o.waiting, fill(t("agentsLine"), { n: o.logged_in }));
    tile("wb-longest", "longest", dur(o.longest_wait_s), o.longest_wait_s, "");
    var sl = tile("wb-sl", "sl", pct(today.sl), today.sl, fill(t("last30"), { v: pct(last.sl) }));
    var target = Math.min.apply(null, d.queues.map(function (q) { return q.sl_target; }).concat([0.8]));
    sl.parentNode.setAttribute("data-level", today.sl == null ? "" : today.sl >= target ? "good" :
      today.sl >= target - 0.1 ? "warn" : "bad");
    tile("wb-asa", "asa", dur(today.asa_s), today.asa_s, fill(t("last30"), { v: dur(last.asa_s) }));
    tile("wb-aht", "aht", dur(today.aht_s), today.aht_s, fill(t("last30"), { v: dur(last.aht_s) }));
    tile("wb-abandon", "abandon", pct(today.abandon_rate), today.abandon_rate,
         fill(t("last30"), { v: pct(last.abandon_rate) }));
    tile("wb-occupancy", "occupancy", pct(today.occupancy), today.occupancy,
         fill(t("last30"), { v: pct(last.occupancy) }));
    tile("wb-handled", "handled", num(today.handled), today.handled, fill(t("last30"), { v: num(last.handled) }));
    var sh = tile("wb-short", "agents_short", num(o.agents_short), o.agents_short,
                  o.agents_required == null ? "" : fill(t("shortLine"), {
                    r: o.agents_required, s: d.queues.reduce(function (a, q) { return a + q.serving; }, 0) }));
    sh.parentNode.setAttribute("data-level", o.agents_short ? "bad" : "good");
    $("wb-sl-variant").textContent = t("variant") + (d.sl_variant ? d.sl_variant[lang] : "");
    $("wb-updated").textContent = fill(t("updated"), { t: (d.at || "").slice(11, 19) });
    renderQueues(d.queues);
    renderAgents(o.agents, d.agents || []);
  }

  function cell(tr, text, key, cls) {
    var td = el("td", text);
    if (key) td.title = formula(key);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function renderQueues(queues) {
    var body = document.querySelector("#wb-queues tbody");
    body.textContent = "";
    queues.forEach(function (q) {
      var tr = el("tr", null, { "data-queue": q.queue });
      var title = lang === "en" ? q.title_en : q.title_zh;
      var th = el("th", title, { scope: "row", title: q.queue + " · SL " + Math.round(q.sl_target * 100) + "% / " + q.sl_seconds + "s" });
      tr.appendChild(th);
      cell(tr, num(q.waiting), "waiting", "n");
      cell(tr, dur(q.longest_wait_s), "longest", "n");
      var s = cell(tr, pct(q.today.sl), "sl", "n");
      if (q.today.sl != null) s.setAttribute("data-level", q.today.sl >= q.sl_target ? "good" : "bad");
      cell(tr, pct(q.last_30.sl), "sl", "n");
      cell(tr, dur(q.today.asa_s), "asa", "n");
      cell(tr, dur(q.today.aht_s), "aht", "n");
      cell(tr, pct(q.today.abandon_rate), "abandon", "n");
      cell(tr, pct(q.today.occupancy), "occupancy", "n");
      cell(tr, num(q.today.handled), "handled", "n");
      var a = q.agents || {};
      cell(tr, [a.available || 0, (a.busy || 0) + (a.offered || 0), a.wrap_up || 0, a["break"] || 0].join(" / "), "agents", "n");
      var short = cell(tr, num(q.agents_short), "agents_short", "n");
      if (q.agents_short) short.setAttribute("data-level", "bad");
      body.appendChild(tr);
    });
  }

  function renderAgents(byState, agents) {
    var ul = document.querySelector("#wb-agents .states");
    ul.textContent = "";
    STATES.forEach(function (s) {
      var li = el("li", null, { "data-state": s, title: formula("agents") });
      li.appendChild(el("span", TEXT[lang].state[s], { "class": "state-name" }));
      li.appendChild(el("strong", String(byState[s] || 0)));
      ul.appendChild(li);
    });
    var body = document.querySelector("#wb-agents tbody");
    body.textContent = "";
    agents.forEach(function (a) {
      var tr = el("tr", null, { "data-agent": a.agent_id, "data-state": a.state });
      cell(tr, a.agent_id);
      cell(tr, a.name);
      cell(tr, TEXT[lang].state[a.state] || a.state, null, "state");
      cell(tr, a.reason || "");
      cell(tr, dur(a.since_s), null, "n");
      cell(tr, String(a.contacts), null, "n");
      body.appendChild(tr);
    });
  }

  // ------------------------------------------------------------------ interval report
  var formReady = false;
  function initReportForm(d) {
    if (formReady) return;
    formReady = true;
    var date = $("wb-date");
    if (!date.value) date.value = d.business_day;
    var sel = $("wb-queue");
    d.queues.forEach(function (q) {
      sel.appendChild(el("option", (lang === "en" ? q.title_en : q.title_zh) + " (" + q.queue + ")", { value: q.queue }));
    });
    updateCsv();
  }

  function params(csv) {
    var p = new URLSearchParams();
    p.set("date", $("wb-date").value || "");
    if ($("wb-to").value) p.set("to", $("wb-to").value);
    p.set("minutes", $("wb-minutes").value);
    if ($("wb-queue").value) p.set("queue", $("wb-queue").value);
    if (csv) p.set("format", "csv");
    return p.toString();
  }

  function updateCsv() { $("wb-csv").setAttribute("href", INTERVALS + "?" + params(true)); }

  function loadReport(ev) {
    if (ev) ev.preventDefault();
    updateCsv();
    fetch(INTERVALS + "?" + params(false), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        if (!res.ok) {
          var err = res.body && res.body.error;
          throw new Error(err ? err["message_" + lang] : "HTTP error");
        }
        report = res.body;
        renderReport(report);
      })
      .catch(function (e) {
        var body = document.querySelector("#wb-intervals tbody");
        body.textContent = "";
        var tr = el("tr");
        tr.appendChild(el("td", fill(t("reportError"), { e: e.message }), { colspan: String(INTERVAL_COLS.length) }));
        body.appendChild(tr);
      });
  }

  function renderReport(r) {
    var body = document.querySelector("#wb-intervals tbody");
    body.textContent = "";
    var hide = $("wb-hide-empty").checked;
    var rows = r.rows.concat(r.totals).sort(function (a, b) {
      return a.start < b.start ? -1 : a.start > b.start ? 1 : (a.queue === "ALL") - (b.queue === "ALL");
    });
    rows.forEach(function (x) {
      if (hide && !x.offered && !x.handled) return;
      var tr = el("tr", null, { "data-queue": x.queue, "data-start": x.start });
      if (x.queue === "ALL") tr.className = "total";
      cell(tr, x.start.slice(5, 10) + " " + x.start.slice(11, 16) + "–" + x.end.slice(11, 16));
      cell(tr, x.queue === "ALL" ? t("all") : x.queue);
      cell(tr, num(x.offered), "offered", "n");
      cell(tr, num(x.answered), "answered", "n");
      cell(tr, num(x.abandoned), "abandoned", "n");
      cell(tr, pct(x.sl), "sl", "n");
      cell(tr, dur(x.asa_s), "asa", "n");
      cell(tr, dur(x.aht_s), "aht", "n");
      cell(tr, dur(x.max_wait_s), "max_wait", "n");
      cell(tr, pct(x.occupancy), "occupancy", "n");
      body.appendChild(tr);
    });
  }

  // ------------------------------------------------------------------ start
  document.addEventListener("DOMContentLoaded", function () {
    $("wb-lang").addEventListener("click", function () {
      lang = lang === "zh" ? "en" : "zh";
      try { window.localStorage.setItem("hotline.wallboard.lang", lang); } catch (e) { /* private mode */ }
      applyLang();
    });
    $("wb-report-form").addEventListener("submit", loadReport);
    ["wb-date", "wb-to", "wb-minutes", "wb-queue"].forEach(function (id) { $(id).addEventListener("change", updateCsv); });
    $("wb-hide-empty").addEventListener("change", function () { if (report) renderReport(report); });
    applyLang();
    status("connecting", t("connecting"));
    poll();
  });
})();
