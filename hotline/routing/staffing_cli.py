"""``hotline staffing``: agents a queue needs for a forecast interval (Erlang C, or Erlang A with patience)."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hotline.routing.staffing import StaffingResult, required_agents


def _seconds(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.1f} s"


def _print_table(r: StaffingResult, *, service_level: float, answer_s: float, shrinkage: float,
                 max_occupancy: float | None, patience_s: float | None) -> None:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    model = "Erlang A" + f"（平均耐心 patience {patience_s:g} s）" if r.model == "erlang_a" else "Erlang C"
    rows = [
        ("模型 Model", model),
        ("话务量 Traffic", f"{r.traffic_erlangs:.2f} Erl"),
        ("在线坐席 Raw agents", str(r.raw_agents)),
        ("排班坐席 Scheduled agents", f"{r.scheduled_agents}（缩减率 shrinkage {shrinkage:.0%}）"),
        (f"服务水平 Service level ({answer_s:g} s)", f"{r.service_level:.1%}（目标 target {service_level:.0%}）"),
        ("等待概率 P(wait)", f"{r.p_wait:.1%}"),
        ("平均应答 ASA", _seconds(r.asa_s)),
        ("占用率 Occupancy", f"{r.occupancy:.1%}" + (f"（上限 max {max_occupancy:.0%}）"
                                                    if max_occupancy is not None else "")),
    ]
    if r.p_abandon is not None:
        rows.append(("放弃率 Abandoned", f"{r.p_abandon:.1%}"))
    for k, v in rows:
        t.add_row(k, v)
    Console().print(t, highlight=False)


def staffing(calls: Annotated[float, typer.Option("--calls", help="Contacts offered in the interval (forecast)")],
             interval: Annotated[float, typer.Option("--interval", help="Interval length in seconds, e.g. 1800")],
             aht: Annotated[float, typer.Option("--aht", help="Average handle time in seconds (talk + wrap-up)")],
             service_level: Annotated[float, typer.Option("--service-level",
                                                          help="Target share answered in time, e.g. 0.8")] = 0.8,
             answer_seconds: Annotated[float, typer.Option("--answer-seconds",
                                                           help="…answered within this many seconds")] = 20.0,
             shrinkage: Annotated[float, typer.Option("--shrinkage",
                                                      help="Share of paid time off the phones, e.g. 0.3")] = 0.0,
             max_occupancy: Annotated[float | None, typer.Option("--max-occupancy",
                                                                    help="Cap on agent occupancy, e.g. 0.85")] = None,
             patience: Annotated[float | None, typer.Option("--patience",
                                                               help="Mean caller patience in seconds: "
                                                                    "use Erlang A (with abandonment)")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False) -> None:
    """Agents needed for an interval: Erlang C, or Erlang A when callers' patience is given."""
    try:
        r = required_agents(calls, interval, aht, service_level, answer_seconds, max_occupancy=max_occupancy,
                            shrinkage=shrinkage, patience_s=patience)
    except ValueError as err:
        Console(stderr=True).print(f"[red]参数有误，请检查后重试。[/red]\nInvalid input: {err}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        out = {**r.as_dict(), "target_service_level": service_level, "answer_seconds": answer_seconds,
               "shrinkage": shrinkage, "max_occupancy": max_occupancy, "patience_seconds": patience}
        print(json.dumps(out, ensure_ascii=False))
        return
    _print_table(r, service_level=service_level, answer_s=answer_seconds, shrinkage=shrinkage,
                 max_occupancy=max_occupancy, patience_s=patience)
