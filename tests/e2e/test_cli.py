"""The CLI as an operator uses it: seed, look a subscriber up, serve the API."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx

CLI = [sys.executable, "-m", "hotline.cli"]


def run_cli(env, *args, check=True):
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def cli_env(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_DATA_DIR=str(tmp_path / "var"), HOTLINE_DATABASE_URL=database_url,
               HOTLINE_PASSWORD_KDF_N="4096", HOTLINE_DEMO_SUBSCRIBERS="20")
    return env


def test_seed_then_show_a_subscriber(tmp_path, database_url):
    env = cli_env(tmp_path, database_url)
    out = run_cli(env, "seed", "--subscribers", "50", "--seed", "3").stdout
    assert "Seeded 53 subscribers" in out
    view = json.loads(run_cli(env, "subscriber", "show", "+86 138 0013 8000", "--json").stdout)
    assert view["msisdn"] == "13800138000" and view["balance_fen"] == 5670 and view["name"] == "张*"
    text = run_cli(env, "subscriber", "show", "13900139000").stdout
    assert "全球通" in text and "五星级（金）" in text and "300.00元" in text
    bad = run_cli(env, "subscriber", "show", "12345", check=False)
    assert bad.returncode == 1 and "11位" in bad.stdout


def test_serve_seeds_the_demo_population_and_answers(tmp_path):
    env = cli_env(tmp_path, "")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # poll until the server is up, within a deadline
            assert server.poll() is None, server.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/api/v1/subscribers/13700137000"
        assert httpx.get(url, timeout=5).status_code == 401           # closed by default
        key_file = tmp_path / "var" / "demo-api-key"
        key = key_file.read_text().strip()
        assert key_file.stat().st_mode & 0o777 == 0o600
        r = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert r.status_code == 200 and r.json()["status"]["name_zh"] == "停机保号"
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
    finally:
        server.terminate()
        out = server.communicate(timeout=20)[0]
    assert key in out and f"http://127.0.0.1:{port}/desk/" in out     # the key is printed with every URL
    assert (tmp_path / "var" / "hotline.db").exists()
