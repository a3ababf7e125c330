"""``hotline staffing`` as a planner uses it: a readable table, JSON for tools, polite refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from hotline.routing.staffing_cli import staffing

PUBLISHED = ["--calls", "100", "--interval", "1800", "--aht", "180", "--service-level", "0.8",
             "--answer-seconds", "20", "--max-occupancy", "0.85", "--shrinkage", "0.3"]


def _app() -> typer.Typer:
    """The command registered the way hotline/cli.py registers it."""
    import hotline.cli

    if any(c.name == "staffing" for c in hotline.cli.app.registered_commands):
        return hotline.cli.app
    app = typer.Typer()
    app.command("staffing")(staffing)
    app.callback()(lambda: None)  # a group, so the command is invoked by name as in `hotline staffing`
    return app


@pytest.fixture(scope="module")
def run():
    runner, app = CliRunner(), _app()
    return lambda *args: runner.invoke(app, ["staffing", *args])


def test_table_shows_the_published_answer(run):
    res = run(*PUBLISHED)
    assert res.exit_code == 0, res.output
    out = res.stdout
    for label, value in [("Raw agents", "14"), ("Scheduled agents", "20"), ("Service level (20 s)", "88.8%"),
                         ("Occupancy", "71.4%"), ("P(wait)", "17.4%"), ("ASA", "7.8 s"), ("Traffic", "10.00 Erl")]:
        line = next(ln for ln in out.splitlines() if label in ln)
        assert value in line, line
    assert "Erlang C" in out and "Abandoned" not in out


def test_patience_switches_to_erlang_a_and_shows_abandonment(run):
    res = run(*PUBLISHED, "--patience", "120")
    assert res.exit_code == 0, res.output
    assert "Erlang A" in res.stdout and "放弃率 Abandoned" in res.stdout
    assert next(ln for ln in res.stdout.splitlines() if "Raw agents" in ln).split()[-1] == "12"


def test_json_is_one_object_with_every_field(run):
    res = run(*PUBLISHED, "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (data["raw_agents"], data["scheduled_agents"], data["model"]) == (14, 20, "erlang_c")
    assert round(data["service_level"], 3) == 0.888 and round(data["occupancy"], 3) == 0.714
    assert data["traffic_erlangs"] == 10 and data["p_abandon"] is None
    assert {"p_wait", "asa_s", "target_service_level", "answer_seconds", "shrinkage", "max_occupancy",
            "patience_seconds"} <= data.keys()
    a = json.loads(run(*PUBLISHED, "--patience", "120", "--json").stdout)
    assert a["model"] == "erlang_a" and 0 < a["p_abandon"] < 0.1 and a["raw_agents"] <= 14


@pytest.mark.parametrize("args,message", [
    (["--interval", "0"], "interval"),
    (["--aht", "-3"], "AHT"),
    (["--service-level", "80"], "service level"),
    (["--shrinkage", "1"], "shrinkage"),
    (["--patience", "0"], "patience"),
])
def test_bad_input_exits_2_with_a_message(run, args, message):
    res = run(*PUBLISHED, *args)
    assert res.exit_code == 2
    assert message in res.stderr and "参数有误" in res.stderr
    assert res.stdout == ""


def test_a_real_process_reports_errors_on_stderr():
    script = ("import typer; from hotline.routing.staffing_cli import staffing; "
              "app = typer.Typer(); app.command()(staffing); app()")
    proc = subprocess.run([sys.executable, "-c", script, "--calls", "100", "--interval", "-1", "--aht", "180"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "interval must be a positive number of seconds" in proc.stderr
    ok = subprocess.run([sys.executable, "-c", script, *PUBLISHED, "--json"], capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["raw_agents"] == 14
