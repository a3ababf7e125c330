"""坐席工作台 as an agent sees it: the /desk page in a real headless Chromium.

The server is the one of test_desk_api (the app as ``hotline serve`` wires it, served by uvicorn on
127.0.0.1 in a thread, its Router in memory on the test's fixed clock, the demo desk agents); the customer is a
WebSocket client of the web chat's socket, so the agent's words are checked where the customer hears them.
Selenium drives Debian's chromium through chromedriver; without them the module is skipped with the reason
(a failure under ``HOTLINE_REQUIRE_ALL=1``). Every wait is bounded (explicit waits, no sleeps); the browser and
the server always stop.

Element ids are documented at the top of hotline/ui/desk/desk.js.
"""

from __future__ import annotations

import os

import httpx
import pytest
from sqlalchemy import select

from conftest import TEST_KDF_N, need
from hotline.bootstrap import bootstrap
from hotline.desk.accounts import seed_demo_agents
from hotline.desk.hub import MemoryHub
from hotline.store.sql.tables import conversation_messages
from test_desk_api import AGENT_PW, LiveDesk

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - selenium is in the test extras
    webdriver = None  # type: ignore[assignment]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 15.0


@pytest.fixture
def settings(tmp_path):   # one backend is enough for the page: SQLite
    from hotline.config import Settings
    return Settings(database_url=f"sqlite:///{tmp_path / 'hotline.db'}", data_dir=tmp_path,
                    password_kdf_n=TEST_KDF_N, db_threads=4, demo_subscribers=0)


@pytest.fixture
def browser():
    need(webdriver is not None, "selenium is not installed (pip install -e '.[test]')")
    need(os.access(CHROMIUM, os.X_OK), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    need(os.access(CHROMEDRIVER, os.X_OK),
         f"chromedriver is not installed at {CHROMEDRIVER} (apt-get install chromium-driver)")


@pytest.fixture
def driver(browser):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=zh-CN",
                "--disable-extensions", "--no-first-run", "--no-default-browser-check", "--window-size=1400,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        drv.set_page_load_timeout(WAIT)
        drv.set_script_timeout(WAIT)
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def live(settings, clock):
    hl = bootstrap(settings, clock=clock)
    seed_demo_agents(hl.db, kdf_n=TEST_KDF_N, clock=clock)
    try:
        with LiveDesk(hl, MemoryHub(), clock) as server:
            yield server
    finally:
        hl.close()


class Desk:
    """What the agent does on the page and sees on it."""

    def __init__(self, driver, live: LiveDesk) -> None:
        self.d = driver
        self.live = live

    def el(self, css_id: str):
        return self.d.find_element(By.ID, css_id)

    def all(self, css: str):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def wait(self, what: str, condition, timeout: float = WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(lambda d: condition())
        except TimeoutException:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{self.diagnostics()}")

    def transcript(self) -> list[tuple[str, str, str]]:
        """(role, who, text) of each message shown, read in one go (the pane re-renders as it updates)."""
        rows = self.d.execute_script(
            "return Array.from(document.querySelectorAll('#transcript > li')).map(function (li) {"
            " return [li.getAttribute('data-role'), li.querySelector('.who').textContent,"
            " li.querySelector('.text').textContent]; });")
        return [tuple(r) for r in rows]

    def diagnostics(self) -> str:
        parts = []
        try:
            parts.append(f"state: {self.el('state-badge').get_attribute('data-state')}")
            parts.append("transcript: " + repr(self.transcript()))
            parts.append("error: " + self.el("desk-error").text)
        except WebDriverException as err:
            parts.append(f"(page unreadable: {err.msg})")
        try:
            parts.append("--- console ---\n" + "\n".join(e["message"] for e in self.d.get_log("browser")[-20:]))
        except Exception:  # the log may be unavailable; the rest still helps
            pass
        return "\n".join(parts)


def test_the_page_and_its_assets_are_served(live):
    page = httpx.get(live.url + "/desk/", timeout=WAIT)
    assert page.status_code == 200 and "坐席工作台" in page.text
    for needle in ('src="desk.js"', 'src="customer.js"', 'id="customer-panel"', 'id="login-user"',
                   'id="offer-accept"', 'id="chat-input"', 'id="wrapup-code"', 'id="transfer"'):
        assert needle in page.text, needle
    for asset, kind in (("desk.js", "javascript"), ("desk.css", "text/css")):
        r = httpx.get(f"{live.url}/desk/{asset}", timeout=WAIT)
        assert r.status_code == 200 and kind in r.headers["content-type"], asset


def test_an_agent_logs_in_takes_a_chat_and_answers_the_customer(driver, live):
    desk = Desk(driver, live)
    driver.get(live.url + "/desk/")
    desk.wait("the login form", lambda: desk.el("login-user").is_displayed())
    assert not desk.el("desk-view").is_displayed()

    # A wrong password is refused politely; the right one opens the desk.
    desk.el("login-user").send_keys("a1003")
    desk.el("login-pass").send_keys("wrong-pass1")
    desk.el("login-submit").click()
    desk.wait("the refusal", lambda: desk.el("login-error").is_displayed())
    assert "工号或密码错误" in desk.el("login-error").text
    desk.el("login-pass").clear()
    desk.el("login-pass").send_keys(AGENT_PW)
    desk.el("login-submit").click()
    desk.wait("the desk", lambda: desk.el("desk-view").is_displayed())
    assert "张伟" in desk.el("agent-name").text
    desk.wait("the live socket", lambda: desk.el("ws-status").get_attribute("data-state") == "online")

    # Available, then a customer handed off by 小贝 is offered with a countdown.
    Select(desk.el("presence-select")).select_by_value("available")
    desk.wait("the state: available", lambda: desk.el("state-badge").get_attribute("data-state") == "available")
    cid, contact = live.hand_off()
    customer = live.customer(cid)
    customer.live_event("waiting")
    live.route()
    desk.wait("the offer", lambda: desk.el("offer").is_displayed())
    assert desk.el("offer").get_attribute("data-contact-id") == contact
    assert "138****8000" in desk.el("offer-info").text and "办理流量包" in desk.el("offer-info").text
    assert 0 < int(desk.el("offer-countdown").text) <= 15

    # Accept: the transcript with 小贝's turns marked, and what 小贝 understood.
    desk.el("offer-accept").click()
    desk.wait("the transcript", lambda: len(desk.transcript()) >= 4)
    said = desk.transcript()
    assert said[0] == ("customer", "客户", "我想办个流量包")
    assert said[1][0] == "assistant" and said[1][1] == "小贝"
    assert desk.el("ctx-business").text == "办理流量包"
    assert "pack.data_1g_month" in desk.el("ctx-slots").text
    assert desk.el("ctx-sentiment").text.startswith("平稳")
    desk.wait("the contact in the list", lambda: desk.all(f'#contact-list > li[data-contact-id="{contact}"]'))
    assert customer.live_event("joined")["text"] == "人工客服 张伟 为您服务。"

    # Both ways: the customer's words appear live; the agent's reach the customer.
    customer.say("流量包一直没生效")
    desk.wait("the customer's message", lambda: desk.transcript()[-1] == ("customer", "客户", "流量包一直没生效"))
    def click_greeting() -> bool:
        try:
            buttons = desk.all('#canned > button.canned-reply[data-canned="greet"]')
            if buttons:
                buttons[0].click()
            return bool(buttons)
        except StaleElementReferenceException:   # the replies were just re-rendered: find it again
            return False
    desk.wait("the canned greeting", click_greeting)
    assert "张伟" in desk.el("chat-input").get_attribute("value")
    desk.el("chat-input").clear()
    desk.el("chat-input").send_keys("您好，我来帮您查一下。")
    desk.el("chat-send").click()
    heard = customer.live_event("message")
    assert heard["text"] == "您好，我来帮您查一下。" and heard["name"] == "张伟"
    desk.wait("the agent's message in the pane", lambda: desk.transcript()[-1][0] == "agent")
    assert len([m for m in desk.transcript() if m[2] == "您好，我来帮您查一下。"]) == 1, "shown twice"

    # The transfer dialog lists the queues (and the signed-in colleagues); cancelling changes nothing.
    desk.el("transfer").click()
    desk.wait("the transfer dialog", lambda: desk.el("transfer-dialog").is_displayed())
    queues = [o.text for o in Select(desk.el("transfer-queue")).options]
    assert any(q.startswith("话费账务") for q in queues), queues
    desk.el("transfer-cancel").click()
    desk.wait("the dialog closed", lambda: not desk.el("transfer-dialog").is_displayed())

    # Finish, then wrap up: the customer goes back to 小贝, the desk is free again.
    desk.el("finish").click()
    desk.wait("the wrap-up form", lambda: desk.el("wrapup").is_displayed())
    assert customer.live_event("ended")["text"].startswith("本次人工服务已结束")
    Select(desk.el("wrapup-code")).select_by_value("resolved")
    desk.el("wrapup-notes").send_keys("已核实流量包生效时间")
    desk.el("wrapup-submit").click()
    desk.wait("the contact gone", lambda: not desk.all("#contact-list > li"))
    desk.wait("the state: available", lambda: desk.el("state-badge").get_attribute("data-state") == "available")
    assert live.router.contact(contact).wrap_code == "resolved"
    roles = [r["role"] for r in live.rows(select(conversation_messages.c.role)
                                           .where(conversation_messages.c.conversation_id == cid))]
    assert roles.count("agent") == 1 and roles.count("customer") == 3
    customer.close()

    # English, and signing out.
    desk.el("lang-toggle").click()
    assert desk.el("finish").text == "Finish" and desk.el("state-badge").text == "Available"
    desk.el("logout").click()
    desk.wait("the login form again", lambda: desk.el("login-view").is_displayed())
    assert live.router.agent("a1003") is None
    errors = [e["message"] for e in driver.get_log("browser") if "Uncaught" in e["message"]]
    assert not errors, errors


def test_the_customer_page_during_human_service(driver, live):
    """The web chat (/chat) while a human serves it: the queue position in the banner, the agent joining,
    their messages, the customer's going to them, and 小贝 back at the end. The conversation was handed off
    beforehand, as 小贝 does on 转人工; the agent works through the desk's API."""
    ahead_cid, ahead = live.hand_off()
    cid, contact = live.hand_off()
    driver.get(live.url + "/chat/")
    driver.execute_script("sessionStorage.setItem('hotline.chat.conversation_id', arguments[0]);"
                          "sessionStorage.setItem('hotline.chat.conversation_secret', arguments[1]);"
                          "sessionStorage.setItem('hotline.chat.state', JSON.stringify({handed_off: true}));",
                          cid, live.secrets[cid])
    driver.refresh()
    page = Desk(driver, live)

    def banner() -> str:
        el = driver.find_element(By.CSS_SELECTOR, '[data-testid="handoff-banner"]')
        return el.text if el.is_displayed() else ""

    page.wait("the queue position", lambda: "您前面还有1位客户，预计等待约" in banner())
    agent = live.agent("a1003")
    agent.connect()
    agent.available()
    live.route()
    agent.view(lambda v: v["offers"] and v["offers"][0]["contact_id"] == ahead, "the first customer's offer")
    agent.ok("POST", f"/offers/{ahead}/accept")
    page.wait("the position moving up", lambda: "您已排在第1位" in banner())
    live.route()
    agent.view(lambda v: v["offers"] and v["offers"][0]["contact_id"] == contact, "this customer's offer")
    agent.ok("POST", f"/offers/{contact}/accept")

    def notices() -> list[str]:
        return [e.text for e in page.all('[data-testid="live-notice"] [data-testid="msg-text"]')]

    page.wait("the agent joining", lambda: "人工客服 张伟 为您服务。" in notices())
    assert "张伟" in banner()

    box = driver.find_element(By.CSS_SELECTOR, '[data-testid="input"]')
    box.send_keys("请帮我看看流量包")
    driver.find_element(By.CSS_SELECTOR, '[data-testid="send"]').click()
    got = agent.socket.until("the customer's message at the desk",
                             lambda m: m.get("type") == "message" and m["role"] == "customer")
    assert got["text"] == "请帮我看看流量包" and got["contact_id"] == contact
    page.wait("the message sent", lambda: not page.all('[data-testid="msg-customer"][data-state="pending"]'))

    agent.ok("POST", f"/contacts/{contact}/messages", json={"text": "已为您查到，流量包将于明天生效。"})

    def agent_msgs() -> list:
        return page.all('[data-testid="msg-agent"]')

    page.wait("the agent's message", lambda: agent_msgs())
    assert "已为您查到，流量包将于明天生效。" in agent_msgs()[-1].text and "张伟" in agent_msgs()[-1].text

    agent.ok("POST", f"/contacts/{contact}/finish")
    page.wait("the end of the session", lambda: any(n.startswith("本次人工服务已结束") for n in notices()))
    page.wait("the banner gone", lambda: banner() == "")
    state = driver.execute_script("return JSON.parse(sessionStorage.getItem('hotline.chat.state'))")
    assert state["handed_off"] is False
    agent.close()
