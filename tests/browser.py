"""Browser tests' shared parts: `hotline serve` in a subprocess on a free loopback port, Debian's headless
Chromium through chromedriver, and bounded polling. Used by the web chat and the end-to-end human-service
tests; without chromium and chromedriver the tests are skipped with the reason (a failure under
``HOTLINE_REQUIRE_ALL=1``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from conftest import TEST_KDF_N, need
from hotline.store.sql.tables import demo_inbox

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - selenium is in the test extras
    webdriver = None  # type: ignore[assignment]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[1]   # the server runs this checkout's code

WAIT = 20.0              # what a user waits for: a reply, a notice, the page
START_TIMEOUT = 60.0     # the server answers /healthz
WARM_TIMEOUT = 600.0     # the server's first assistant turn: loads (the first time ever: trains) the NLU
PHONE = (390, 844)       # a phone-sized viewport

ASSISTANT = '[data-testid="msg-assistant"] [data-testid="msg-text"]'   # 小贝's replies on the chat page
CUSTOMER = '[data-testid="msg-customer"]'


def need_browser() -> None:
    """Chromium, its driver and selenium are there (checked before any server is started)."""
    need(webdriver is not None, "selenium is not installed (pip install -e '.[test]')")
    need(os.access(CHROMIUM, os.X_OK), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    need(os.access(CHROMEDRIVER, os.X_OK),
         f"chromedriver is not installed at {CHROMEDRIVER} (apt-get install chromium-driver)")


def start_chromium(phone: bool = False, window: tuple[int, int] = (1400, 900)):
    """A headless Chromium with its own profile (cookies, storage): one browser context per call."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=zh-CN",
                "--disable-extensions", "--no-first-run", "--no-default-browser-check",
                f"--window-size={window[0]},{window[1]}"):
        options.add_argument(arg)
    if phone:   # a phone: its viewport, pixel ratio and touch (a headless window is never narrower than 500 px)
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": PHONE[0], "height": PHONE[1], "pixelRatio": 3.0, "touch": True}})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(WAIT)
    drv.set_script_timeout(WAIT)
    return drv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The server


class Server:
    """`hotline serve` on 127.0.0.1:port over SQLite in ``root``; it can be stopped and started again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = root / "var" / "hotline.db"
        self.log = root / "server.out"
        self.proc: subprocess.Popen | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_") or k == "HOTLINE_NLU_CACHE"}
        env.update(HOTLINE_DATA_DIR=str(root / "var"), HOTLINE_DATABASE_URL="", HOTLINE_SEED_DEMO="1",
                   HOTLINE_DEMO_SUBSCRIBERS="20", HOTLINE_PASSWORD_KDF_N=str(TEST_KDF_N), HOTLINE_DB_THREADS="4",
                   HOTLINE_LOG_LEVEL="warning",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
        self.env = env

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "hotline.cli", "serve", "--port", str(self.port)],
                                         env=self.env, cwd=self.root, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        poll("the server answers /healthz", lambda: self._get_ok("/healthz"), START_TIMEOUT, self.tail)

    def warm_up(self) -> None:
        """One assistant turn over HTTP, so the NLU is loaded before the browser's bounded waits."""
        try:
            r = httpx.post(f"{self.url}/api/v1/assistant/messages", json={"text": "你好"}, timeout=WARM_TIMEOUT)
        except httpx.HTTPError as err:
            pytest.fail(f"小贝 did not answer within {WARM_TIMEOUT:.0f} s: {err!r}\n{self.tail()}")
        assert r.status_code == 200, f"{r.status_code} {r.text}\n{self.tail()}"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def api_headers(self) -> dict[str, str]:
        """The demo API key `serve` printed (kept in the data dir): the API is closed without it."""
        return {"Authorization": f"Bearer {(self.root / 'var' / 'demo-api-key').read_text().strip()}"}

    def conversation(self, conversation_id: str) -> dict:
        r = httpx.get(f"{self.url}/api/v1/assistant/conversations/{conversation_id}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def newest_code(self, msisdn: str, after_id: int = 0) -> tuple[int, str]:
        """The newest code the phone ``msisdn`` received (the demo inbox, newer than ``after_id``): (id, code)."""
        engine = create_engine(f"sqlite:///{self.db_path}")
        try:
            def read():
                with engine.connect() as conn:
                    row = conn.execute(select(demo_inbox.c.id, demo_inbox.c.text)
                                       .where(demo_inbox.c.msisdn == msisdn, demo_inbox.c.id > after_id)
                                       .order_by(demo_inbox.c.id.desc()).limit(1)).first()
                return row
            row = poll(f"a code queued for {msisdn}", read, WAIT, self.tail)
        finally:
            engine.dispose()
        m = re.search(r"(?<!\d)(\d{6})(?!\d)", row.text)
        assert m, f"no 6-digit code in the SMS: {row.text!r}"
        return row.id, m.group(1)

    def last_outbox_id(self) -> int:
        engine = create_engine(f"sqlite:///{self.db_path}")
        try:
            with engine.connect() as conn:
                return conn.execute(select(demo_inbox.c.id).order_by(demo_inbox.c.id.desc()).limit(1)).scalar() or 0
        finally:
            engine.dispose()

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server output)"
        return "--- server output ---\n" + "\n".join(text[-lines:])

    def _get_ok(self, path: str) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            pytest.fail(f"the server exited ({self.proc.returncode})\n{self.tail()}")
        try:
            return httpx.get(self.url + path, timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def poll(what: str, check, timeout: float, diagnostics=lambda: ""):
    """``check()`` until truthy, through WebDriverWait's bounded polling (no sleeps of our own)."""
    try:
        return WebDriverWait(None, timeout, poll_frequency=0.1).until(  # type: ignore[type-var]  # no driver needed
            lambda _: check())
    except TimeoutException:
        pytest.fail(f"{what}: not within {timeout:.0f} s\n{diagnostics()}")


class Customer:
    """What a customer does on the page and sees on it."""

    def __init__(self, driver, server: Server) -> None:
        self.driver = driver
        self.server = server

    def open(self) -> None:
        self.driver.get(f"{self.server.url}/chat")
        self.wait_online()

    def wait_online(self, timeout: float = WAIT) -> None:
        self.wait("the page connects to 小贝", lambda d: self.status() == "online", timeout)

    def status(self) -> str:
        return self.driver.find_element(By.ID, "status").get_attribute("data-state")

    def el(self, testid: str):
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def replies(self) -> list[str]:
        return [e.text for e in self.all(ASSISTANT)]

    def transcript(self) -> list[tuple[str, str]]:
        return [(li.get_attribute("data-testid"), li.find_element(By.CSS_SELECTOR, '[data-testid="msg-text"]').text)
                for li in self.all("#messages > li")]

    def conversation_id(self) -> str:
        return self.driver.execute_script("return sessionStorage.getItem('hotline.chat.conversation_id')")

    def type(self, text: str) -> None:
        box = self.el("input")
        box.clear()
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def say(self, text: str, timeout: float = WAIT) -> list[str]:
        """Type ``text`` and press Enter; the replies of that turn."""
        before = len(self.replies())
        self.type(text)
        return self.answered(before, f"a reply to {text!r}", timeout)

    def click_choice(self, label_part: str | None = None, index: int = 0) -> tuple[str, list[str]]:
        """Click a choice button of the last reply (the first whose label contains ``label_part``)."""
        buttons = [b for b in self.all('[data-testid="choice"]') if b.is_enabled()]
        if label_part is not None:
            buttons = [b for b in buttons if label_part in b.text]
        assert buttons, f"no choice {label_part!r} on the page: {self.replies()[-3:]}"
        before = len(self.replies())
        label = buttons[index].text
        buttons[index].click()
        return label, self.answered(before, f"a reply to the choice {label!r}")

    def answered(self, before: int, what: str, timeout: float = WAIT) -> list[str]:
        self.wait(what, lambda d: len(self.replies()) > before and not self.all('[data-state="pending"]')
                  and not self.el("typing").is_displayed(), timeout)
        return self.replies()[before:]

    def wait(self, what: str, condition, timeout: float = WAIT):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(condition)
        except TimeoutException:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{self.diagnostics()}")

    def diagnostics(self) -> str:
        parts = []
        try:
            parts.append("--- the page ---\n" + "\n".join(f"{role}: {text}" for role, text in self.transcript()))
            parts.append(f"status: {self.status()}")
        except WebDriverException as err:
            parts.append(f"(page unreadable: {err.msg})")
        try:
            logs = self.driver.get_log("browser")
            parts.append("--- browser console ---\n" + "\n".join(e["message"] for e in logs[-20:]))
        except Exception:  # the log may be unavailable; the rest still helps
            pass
        parts.append(self.server.tail())
        return "\n".join(parts)
