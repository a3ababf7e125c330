"""End to end, as people use it: a customer in the web chat asks 小贝 for a human; the contact enters the
right queue with its context; an agent signed in at the desk gets the offer, accepts, reads the transcript,
chats with the customer, runs a business for them, wraps up; then the wallboard counts it.

Two browser contexts (two headless Chromiums, each with its own cookies and storage): the customer's phone
on /chat and the agent's desk on /desk (later the supervisor signs in on the same desk browser for
/wallboard). The server is a real `hotline serve` subprocess over SQLite with the demo population and demo
desk accounts, its routing loop running on the real clock: nothing is driven by hand. Every wait is bounded.
"""

from __future__ import annotations

import httpx
import pytest

from browser import WAIT, Customer, Server, need_browser, start_chromium

try:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - need_browser() says so
    pass

ZHANG = "13800138000"          # 神州行, ¥56.70: a normal customer, so the billing queue
AGENT, AGENT_PW = "a1001", "desk10086!"          # 王芳: general 8, billing 7, orders 6 (demo_agents.toml)
SUPERVISOR, SUPERVISOR_PW = "s2001", "super10086!"
PACK_FEN = 1000                # the 1 GB pack the agent orders for the customer


class Desk:
    """The agent's (then the supervisor's) browser on /desk and /wallboard."""

    def __init__(self, driver, server: Server) -> None:
        self.driver, self.server = driver, server

    def el(self, id_: str):
        return self.driver.find_element(By.ID, id_)

    def css(self, selector: str):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait(self, what: str, condition, timeout: float = WAIT):
        try:
            # Lists re-render as data arrives: an element gone stale is looked for again.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition())
        except TimeoutException:
            logs = "\n".join(e["message"] for e in self.driver.get_log("browser")[-20:])
            pytest.fail(f"{what}: not within {timeout:.0f} s\n--- browser console ---\n{logs}\n{self.server.tail()}")

    def sign_in(self, login: str, password: str) -> None:
        self.driver.get(f"{self.server.url}/desk/")
        self.wait("the desk page is ready", lambda: self.css('body[data-ready="1"]'))
        self.el("login-user").send_keys(login)
        self.el("login-pass").send_keys(password)
        self.el("login-submit").click()
        self.wait(f"{login} is signed in", lambda: self.el("agent-name").is_displayed()
                  and self.el("agent-name").text.strip())

    def click(self, what: str, selector: str) -> None:
        """Click the shown element matching ``selector`` once it is there (a re-rendered one is found again)."""
        def shown_and_clicked() -> bool:
            found = [e for e in self.css(selector) if e.is_displayed()]
            if found:
                found[0].click()
            return bool(found)
        self.wait(what, shown_and_clicked)

    def state(self) -> str:
        return self.el("state-badge").get_attribute("data-state")

    def transcript(self) -> list[tuple[str, str]]:
        """(role, text) of each line, read in one script: the list re-renders as messages arrive."""
        rows = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#transcript > li.msg')).map(function (li) {"
            " var t = li.querySelector('.text'); return [li.getAttribute('data-role'), t ? t.textContent : ''];});")
        return [tuple(r) for r in rows]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_browser()
    srv = Server(tmp_path_factory.mktemp("human_service"))
    try:
        srv.start()
        srv.warm_up()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def phone(server):
    drv = start_chromium(phone=True)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def desk_browser(server):
    drv = start_chromium()
    try:
        yield drv
    finally:
        drv.quit()


def balance_fen(server: Server) -> int:
    r = httpx.get(f"{server.url}/api/v1/subscribers/{ZHANG}", headers=server.api_headers(), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["balance_fen"]


def test_a_customer_is_served_by_an_agent_from_chat_to_wallboard(server, phone, desk_browser):
    customer, agent = Customer(phone, server), Desk(desk_browser, server)

    # The agent signs in and becomes available.
    agent.sign_in(AGENT, AGENT_PW)
    assert "王芳" in agent.el("agent-name").text
    Select(agent.el("presence-select")).select_by_value("available")
    agent.wait("the agent is available", lambda: agent.state() == "available")

    # The customer proves the number to 小贝, asks the balance, then asks for a human.
    customer.open()
    customer.el("msisdn").send_keys(ZHANG)
    seen = server.last_outbox_id()
    customer.say("查一下我的话费余额")
    _, code = server.newest_code(ZHANG, after_id=seen)
    assert any("56.70" in r for r in customer.say(code))
    customer.say("转人工")
    customer.wait("the hand-off notice", lambda d: customer.all('[data-testid="handoff-notice"]'))

    # The offer reaches the agent's desk with its context; the agent accepts it.
    agent.wait("an offer on the desk", lambda: agent.el("offer").is_displayed()
               and agent.el("offer").get_attribute("data-contact-id"))
    contact_id = agent.el("offer").get_attribute("data-contact-id")
    agent.el("offer-accept").click()
    agent.wait("the accepted contact is shown", lambda: agent.css(f'#contact-list > li[data-contact-id="{contact_id}"]')
               and agent.transcript())
    assert agent.state() == "busy"
    said = agent.transcript()
    assert ("customer", "查一下我的话费余额") in said and ("customer", "转人工") in said
    assert any(role == "assistant" and "56.70" in text for role, text in said), said   # 小贝's answer
    assert "******" in [text for role, text in said if role == "customer"], "the code is shown masked"
    assert "话费账务" in agent.el("ctx-queue").text                     # a balance question: the billing queue
    assert agent.el("ctx-business").text.strip()                        # the recognised business, by name

    # The customer is told who serves them; the two chat both ways.
    customer.wait("the agent joins",
                  lambda d: any("王芳" in n.text for n in customer.all('[data-testid="live-notice"]')))
    agent.el("chat-input").send_keys("您好，我是王芳，请问还有什么可以帮您？")
    agent.el("chat-send").click()
    customer.wait("the agent's words",
                  lambda d: any("我是王芳" in m.text for m in customer.all('[data-testid="msg-agent"]')))
    customer.type("帮我办一个1G的流量包")
    agent.wait("the customer's words on the desk", lambda: ("customer", "帮我办一个1G的流量包") in agent.transcript())

    # The agent runs the business for the customer: verified by 小贝's code, confirmed, charged once.
    before = balance_fen(server)
    agent.wait("the customer panel", lambda: agent.css("#cp-verify-method"))
    assert "*" in agent.el("cp-name").text, "the name is masked"
    Select(agent.el("cp-verify-method")).select_by_value("conversation")
    agent.el("cp-verify-submit").click()
    agent.wait("the customer is verified", lambda: "cp-ok" in agent.el("cp-verify-status").get_attribute("class"))
    agent.el("cp-business-search").send_keys("KTLL1")
    agent.click("the 1 GB pack found by its SMS code", '#cp-business-list [data-code="order.data_pack.1g_month"]')
    agent.click("the business form's run button", "#cp-run")
    agent.wait("the confirmation", lambda: agent.css("#cp-confirm"))
    assert "1GB" in agent.el("cp-confirm-text").text
    agent.click("the confirm button", "#cp-confirm")
    agent.wait("the result", lambda: agent.el("cp-result").text.strip())
    assert "cp-bad" not in agent.el("cp-result").get_attribute("class"), agent.el("cp-result").text
    assert balance_fen(server) == before - PACK_FEN

    # The agent ends the chat and wraps up; the customer is told, and the agent is free again.
    agent.el("finish").click()
    agent.wait("the wrap-up form", lambda: agent.el("wrapup").is_displayed())
    customer.wait("the end of human service", lambda d: any("人工服务已结束" in n.text
                                                            for n in customer.all('[data-testid="live-notice"]')))
    Select(agent.el("wrapup-code")).select_by_value(
        next(o.get_attribute("value") for o in Select(agent.el("wrapup-code")).options if o.get_attribute("value")))
    agent.el("wrapup-notes").send_keys("代客办理1GB流量包")
    agent.el("wrapup-submit").click()
    agent.wait("the agent is available after wrap-up", lambda: agent.state() == "available")

    # The supervisor's wallboard counts it: one contact handled today, in the billing queue.
    agent.el("logout").click()
    agent.wait("signed out", lambda: agent.el("login-user").is_displayed())
    agent.sign_in(SUPERVISOR, SUPERVISOR_PW)
    desk_browser.get(f"{server.url}/wallboard/")
    agent.wait("the wallboard counts the contact", lambda: agent.el("wb-handled").get_attribute("data-value") == "1",
               timeout=WAIT)
    assert agent.css('#wb-queues tr[data-queue="billing"]'), "the billing queue has its row"
    assert agent.el("wb-waiting").get_attribute("data-value") == "0"
