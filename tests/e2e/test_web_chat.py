"""在线客服 as a customer sees it: the /chat page in a real headless Chromium, talking to 小贝.

`hotline serve` runs as a subprocess on a free loopback port over a fresh SQLite database seeded with
the demo population; Selenium drives Debian's chromium through chromedriver at a phone-sized window.
The one-time code "sent by SMS" is read from the server's demo inbox (``demo_inbox``), as a phone would receive
it. Every wait is bounded (explicit waits, no sleeps); the browser and the server are always stopped.
Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian's chromium and chromium-driver);
without them the module is skipped with the reason (a failure under ``HOTLINE_REQUIRE_ALL=1``).

One more test, without a browser, checks that the page and its assets are served (and need no API token).

The first turn of a server loads 小贝's NLU model; the very first run on a machine trains it (a minute or
two, then cached), so each server is warmed up over HTTP, within WARM_TIMEOUT, before the browser waits.
"""

from __future__ import annotations

import httpx
import pytest

from browser import ASSISTANT, CUSTOMER, PHONE, Customer, Server, need_browser, start_chromium
from hotline.api.app import create_app
from hotline.bootstrap import bootstrap

try:
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - selenium is in the test extras; need_browser() says so
    pass

ZHANG = "13800138000"

RECONNECT_WAIT = 30.0    # the page's reconnect back-off is at most ~12 s between attempts


# ---------------------------------------------------------------------------------------------
# The browser and the server


@pytest.fixture(scope="module")
def browser():
    need_browser()


@pytest.fixture
def driver(browser):
    drv = start_chromium(phone=True)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):
    """One server for the module (each start loads the NLU model); the last test restarts it."""
    srv = Server(tmp_path_factory.mktemp("web_chat"))
    try:
        srv.start()
        srv.warm_up()
        yield srv
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------------------
# The tests


async def test_the_page_and_its_assets_are_served(settings, clock):
    """Without a browser: /chat is the page, with its script and style beside it. Customers need no API
    token for it, while the API itself still does."""
    hl = bootstrap(settings.model_copy(update={"api_token": "s3cret"}), clock=clock)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hl)),
                                     base_url="http://hotline.test", follow_redirects=True) as client:
            page = await client.get("/chat")
            assert page.status_code == 200 and str(page.url).endswith("/chat/")
            assert page.headers["content-type"].startswith("text/html")
            assert "中国移动 在线客服 · 小贝" in page.text and 'src="chat.js"' in page.text
            assert "/api/v1/assistant/ws" in page.text
            for asset, kind in (("chat.js", "javascript"), ("chat.css", "text/css")):
                r = await client.get(f"/chat/{asset}")
                assert r.status_code == 200 and kind in r.headers["content-type"], asset
            assert (await client.get("/api/v1/businesses")).status_code == 401
    finally:
        hl.close()


def test_a_customer_chats_with_xiaobei(driver, server):
    me = Customer(driver, server)
    me.open()
    assert driver.current_url.endswith("/chat/")
    assert "中国移动 在线客服 · 小贝" in me.el("title").text
    assert me.el("welcome").is_displayed() and not me.all(ASSISTANT)
    width = driver.execute_script("return document.documentElement.clientWidth")
    assert width <= PHONE[0] and driver.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"), \
        "the page scrolls sideways on a phone"
    for testid in ("input", "send", "msisdn", "lang-toggle"):   # every control is named for a screen reader
        el = me.el(testid)
        assert el.get_attribute("aria-label") or driver.find_elements(
            By.CSS_SELECTOR, f'label[for="{el.get_attribute("id")}"]'), testid

    # A greeting, answered.
    greeting = me.say("你好")
    assert any("小贝" in r for r in greeting), greeting
    assert not me.all('[data-testid="welcome"]')

    # The balance: the number from the 手机号 field, a one-time code by SMS, then the answer.
    me.el("msisdn").send_keys(ZHANG)
    seen = server.last_outbox_id()
    asked = me.say("查一下我的话费余额")
    assert any("验证码" in r and "138****8000" in r for r in asked), asked
    assert me.el("input").get_attribute("data-stage") == "otp"
    _, code = server.newest_code(ZHANG, after_id=seen)
    answer = me.say(code)
    assert any("56.70" in r for r in answer), answer
    assert me.all(CUSTOMER)[-1].text.strip().endswith("••••••"), "the code is not masked in the transcript"
    assert code not in driver.execute_script("return JSON.stringify(sessionStorage)")

    # Choices are buttons; clicking one sends its label. Declining the order charges nothing.
    packs = me.say("我想办个流量包")
    assert me.all('[data-testid="choice"]'), f"no choices offered: {packs}"
    label, confirm = me.click_choice(index=0)
    assert me.all(CUSTOMER)[-1].text.strip().endswith(label)
    assert not any(label in r for r in packs), "the options are listed twice: as text and as buttons"
    assert any("是" in r for r in confirm), confirm
    _, declined = me.click_choice("不")
    assert any("取消" in r for r in declined), declined
    assert all(not b.is_enabled() for b in me.all('[data-testid="choice"]')), "old choices stay clickable"

    # A consultation: the answer shows the knowledge-base article it comes from.
    before = len(me.all('[data-testid="article-source"]'))
    roaming = me.say("出国漫游怎么收费")
    sources = me.all('[data-testid="article-source"]')
    assert len(sources) == before + 1, roaming
    assert sources[-1].text.startswith("来源：知识库《") and sources[-1].get_attribute("data-article"), sources[-1].text
    assert any("漫游" in r for r in roaming), roaming

    # A human: the hand-off notice.
    assert not me.el("handoff-banner").is_displayed()
    me.say("转人工")
    me.wait("the hand-off notice", lambda d: me.all('[data-testid="handoff-notice"]'))
    assert "人工客服" in me.el("handoff-notice").text
    assert me.el("handoff-banner").is_displayed()

    # A reload keeps the transcript and the conversation; the next message continues it.
    conversation = me.conversation_id()
    shown = me.transcript()
    driver.refresh()
    me.wait_online()
    assert me.transcript() == shown
    assert me.conversation_id() == conversation
    assert me.el("handoff-banner").is_displayed() and me.el("msisdn").get_attribute("value") == ZHANG
    thanks = me.say("谢谢")
    assert thanks and me.conversation_id() == conversation

    stored = server.conversation(conversation)
    said = [m["text"] for m in stored["transcript"] if m["role"] == "customer"]
    assert said == ["你好", "查一下我的话费余额", "******", "我想办个流量包", label, "不", "出国漫游怎么收费",
                    "转人工", "谢谢"], said
    assert len(stored["handoffs"]) == 1


def test_the_chat_carries_on_across_a_server_restart(driver, server):
    me = Customer(driver, server)
    me.open()

    # English: the page and 小贝's replies.
    me.el("lang-toggle").click()
    assert me.el("send").text == "Send" and driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    hello = me.say("你好")
    assert any("Xiaobei" in r for r in hello), hello
    me.el("lang-toggle").click()
    conversation = me.conversation_id()

    # The server goes away: a polite error, and what the customer types waits for it.
    server.stop()
    me.wait("the connection error", lambda d: me.all('[data-testid="error-bubble"]'))
    assert "抱歉" in me.el("error-bubble").text
    before = len(me.replies())
    me.type("谢谢")
    assert me.all(CUSTOMER)[-1].get_attribute("data-state") == "pending"

    # It comes back on the same port and database: the message is answered, in the same conversation.
    server.start()
    server.warm_up()
    me.wait_online(RECONNECT_WAIT)
    thanks = me.answered(before, "the reply to the message typed while offline")
    assert thanks and me.conversation_id() == conversation
    assert not me.all('[data-testid="error-bubble"]')
    said = [m["text"] for m in server.conversation(conversation)["transcript"] if m["role"] == "customer"]
    assert said == ["你好", "谢谢"], said
