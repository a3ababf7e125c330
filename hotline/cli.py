"""The ``hotline`` command: serve, seed, subscriber, products, catalog, sms, nlu, chat, staffing, billing,
db."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from hotline.api.keys import SCOPES
from hotline.bootstrap import Hotline, bootstrap
from hotline.bss.port import Actor
from hotline.config import Settings, load_settings
from hotline.domain.errors import DomainError
from hotline.domain.products import yuan
from hotline.routing.staffing_cli import staffing

app = typer.Typer(help="hotline: omnichannel customer service for mobile operators.", no_args_is_help=True)
subscriber_app = typer.Typer(help="Look up subscribers.", no_args_is_help=True)
billing_app = typer.Typer(help="Billing cycles.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys: credentials with scopes for /api/v1.", no_args_is_help=True)
app.add_typer(subscriber_app, name="subscriber")
app.add_typer(apikey_app, name="apikey")
app.add_typer(billing_app, name="billing")
app.add_typer(db_app, name="db")
cards_app = typer.Typer(help="Top-up cards (充值卡).", no_args_is_help=True)
app.add_typer(cards_app, name="cards")
app.command("staffing")(staffing)
console = Console()
CLI_ACTOR = Actor("cli", "operator")


def _open(migrate: bool = True) -> Hotline:
    return bootstrap(load_settings(), migrate_schema=migrate)


def _fail(err: DomainError) -> None:
    console.print(f"[red]{err.message_zh}[/red]\n[dim]{err.message_en}[/dim]")
    raise typer.Exit(1)


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Listen address")] = None,
          port: Annotated[int | None, typer.Option(help="Listen port")] = None) -> None:
    """Run the API on the configured database, seeding the demo population on first start."""
    import uvicorn

    from hotline.api.app import create_app
    from hotline.bss.seed import seed_demo_if_empty

    settings = load_settings(host=host, port=port)
    hl = bootstrap(settings)
    loopback = _is_loopback(settings.host)
    if settings.seed_demo:
        report = seed_demo_if_empty(hl.db, hl.bss.products, clock=hl.bss.clock, kdf_n=settings.password_kdf_n,
                                    synthetic=settings.demo_subscribers)
        if report is not None:
            console.print(f"Seeded the demo population: {report.subscribers} subscribers.")
        from hotline.desk.accounts import seed_demo_agents
        agents = seed_demo_agents(hl.db, kdf_n=settings.password_kdf_n, clock=hl.services.clock)
        if agents:
            console.print(f"Seeded {agents} demo desk accounts (logins in the README).")
    demo_key = _demo_api_key(hl, create=settings.seed_demo and loopback)
    if not loopback:
        _refuse_public_demo(hl, demo_key)
    base = f"http://{f'[{settings.host}]' if ':' in settings.host else settings.host}:{settings.port}"
    console.print(f"hotline on {base}  database: {hl.db.url.render_as_string(hide_password=True)}", highlight=False)
    for label, path in (("API docs", "/docs"), ("web chat", "/chat/"), ("agent desk", "/desk/"),
                        ("wallboard", "/wallboard/")):
        console.print(f"  {label:<11}{base}{path}", highlight=False)
    if demo_key:
        console.print(f"  demo API key (all scopes, kept in {_demo_key_path(settings)}):\n    {demo_key}\n"
                      f"  try: curl -H \"Authorization: Bearer {demo_key}\" {base}/api/v1/subscribers/13800138000",
                      highlight=False, soft_wrap=True)
    try:
        uvicorn.run(create_app(hl), host=settings.host, port=settings.port, backlog=4096,
                    log_level=settings.log_level)
    finally:
        hl.close()


LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEMO_KEY_FILE = "demo-api-key"


def _is_loopback(host: str) -> bool:
    return host.strip("[]").lower() in LOOPBACK


def _demo_key_path(settings: Settings) -> Path:
    return settings.data_dir / DEMO_KEY_FILE


def _demo_api_key(hl: Hotline, *, create: bool) -> str | None:
    """The demo API key (all scopes) kept in the data dir, if it is still valid; with ``create``, made once.

    Only its hash is in the database; the clear key sits in a file only its owner can read (0600), so a
    restart prints the same key. Revoke it (``hotline apikey revoke``) and delete the file to retire it.
    """
    path = _demo_key_path(hl.settings)
    if path.exists():
        token = path.read_text().strip()
        if token and hl.apikeys.valid(token) is not None:
            return token
    if not create:
        return None
    _, token = hl.apikeys.create(SCOPES, name="demo", created_by="serve")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)   # when the file was there before, with other modes
    return token


def _demo_desk_logins(hl: Hotline) -> list[str]:
    """Demo desk accounts that still open with their published demo password."""
    import tomllib

    from sqlalchemy import select

    from hotline.desk.accounts import DEMO_AGENTS
    from hotline.domain.password import verify_password
    from hotline.store.sql.tables import desk_agents

    with open(DEMO_AGENTS, "rb") as fh:
        data = tomllib.load(fh)
    logins = [a["login"] for a in data["agents"]]
    rows = hl.db.run_sync(lambda c: c.execute(select(desk_agents.c.login, desk_agents.c.role,
                                                     desk_agents.c.password_hash, desk_agents.c.active)
                                              .where(desk_agents.c.login.in_(logins))).all(), write=False)
    return [r.login for r in rows if r.active and r.role in data["passwords"]
            and verify_password(data["passwords"][r.role], r.password_hash)]


def _refuse_public_demo(hl: Hotline, demo_key: str | None) -> None:
    """Demo credentials are published in the README: never let them face a network."""
    problems: list[str] = []
    if demo_key:
        problems.append(f"the demo API key in {_demo_key_path(hl.settings)} is valid: revoke it "
                        "(hotline apikey list; hotline apikey revoke ID) and delete the file")
    if hl.outbox.demo:
        problems.append("SMS go to the local demo inbox (no gateway): codes would never reach the customers' "
                        "phones and are readable on this machine; configure Kannel (HOTLINE_KANNEL_ENABLED …)")
    desk = _demo_desk_logins(hl)
    if desk:
        problems.append(f"demo desk accounts still have their demo passwords ({', '.join(desk)}): change "
                        "them or disable these accounts")
    if not problems:
        return
    console.print(f"[red]拒绝在非本机地址 {hl.settings.host} 上启动：演示凭据仍然有效。[/red]\n"
                  f"Refusing to listen on {hl.settings.host}: demo credentials are in force, and anyone who "
                  "has read the README could use them.", highlight=False)
    for p in problems:
        console.print(f"  - {p}", highlight=False)
    console.print("Fix: set HOTLINE_SEED_DEMO=false (no demo data, no demo key) and create your own "
                  "credentials (hotline apikey create --scope read ...), or bind to 127.0.0.1 for a demo.",
                  highlight=False)
    hl.close()
    raise typer.Exit(2)


@app.command()
def seed(subscribers: Annotated[int, typer.Option("--subscribers", "-n", help="Synthetic subscribers")] = 1000,
         seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same population")] = 86) -> None:
    """Create a deterministic synthetic population (always with the three demo subscribers)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from hotline.bss.seed import seed_population

    hl = _open()
    try:
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("seeding", total=subscribers)
            report = seed_population(hl.db, hl.bss.products, subscribers=subscribers, seed=seed,
                                     clock=hl.bss.clock, kdf_n=hl.settings.password_kdf_n,
                                     progress=lambda done: bar.update(task, completed=done))
        console.print(f"Seeded {report.subscribers} subscribers in {report.seconds:.1f} s "
                      f"({report.subscribers / max(report.seconds, 1e-9):,.0f}/s).")
    finally:
        hl.close()


@subscriber_app.command("show")
def subscriber_show(msisdn: str,
                    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
                    unmask: Annotated[bool, typer.Option(help="Show full name and ID number")] = False,
                    reason: Annotated[str, typer.Option(help="Why unmasking is needed (audited)")] = "") -> None:
    """Print a subscriber's 360° view. Every look-up is audited."""
    hl = _open()
    try:
        view = asyncio.run(hl.bss.profile(msisdn, CLI_ACTOR, unmask=unmask, reason=reason))
    except DomainError as err:
        _fail(err)
    finally:
        hl.close()
    if as_json:
        print(json.dumps(view, ensure_ascii=False, indent=2))
        return
    _print_profile(view)


def _print_profile(v: dict) -> None:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    plan = v["plan"]
    rows = [
        ("号码 Number", v["msisdn"]),
        ("客户 Name", v["name"]),
        ("证件 ID", v["id_number"]),
        ("品牌 Brand", f"{v['brand']['name_zh']} ({'预付费' if v['payment_type'] == 'prepaid' else '后付费'})"),
        ("星级 Star", v["star_level"]["name_zh"]),
        ("归属地 Home", f"{v['province']['name_zh']} {v['city']}"),
        ("入网 Joined", v["join_date"]),
        ("状态 Status", v["status"]["name_zh"]),
        ("套餐 Plan", f"{plan['name_zh']}  {yuan(plan['fee_fen'])}元/月"),
        ("余额 Balance", f"{yuan(v['balance_fen'])}元" + (f"（信用额度{yuan(v['credit_limit_fen'])}元）"
                                                       if v["credit_limit_fen"] else "")),
        ("本月话费 Charges", f"{yuan(v['charges_this_cycle_fen'])}元"),
        ("积分 Points", str(v["points"])),
    ]
    if v["next_plan"]:
        rows.append(("次月套餐 Next plan", v["next_plan"]["name_zh"]))
    u = v["usage"]
    rows.append(("本月用量 Usage", f"通话 {u['voice_min']['used']}/{u['voice_min']['included']} 分钟，"
                                  f"流量 {u['data_mb']['used']}/{u['data_mb']['included']} MB，"
                                  f"短信 {u['sms']['used']}/{u['sms']['included']} 条"))
    for s in v["subscriptions"]:
        where = "套餐内" if s["in_plan"] else f"{yuan(s['fee_fen'])}元"
        rows.append(("已订 Subscribed", f"{s['name_zh']}（{where}）"))
    for b in v["bills"]:
        rows.append(("账单 Bill", f"{b['cycle']}: {yuan(b['total_fen'])}元"))
    for k, val in rows:
        t.add_row(k, val)
    console.print(t)
    if v["masked"]:
        console.print("[dim]个人信息已脱敏；--unmask --reason … 查看完整信息（将记录审计）。[/dim]")


@app.command()
def products(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the operator's products."""
    from hotline.bss.products import load_products

    catalog = load_products()
    if as_json:
        print(json.dumps([p.model_dump(mode="json") for p in catalog], ensure_ascii=False, indent=2))
        return
    t = Table("code", "kind", "name", "fee")
    for p in catalog:
        t.add_row(p.code, p.kind.name_zh, p.name_zh, p.fee_text_zh)
    console.print(t)


@app.command()
def catalog(as_json: Annotated[bool, typer.Option("--json", help="Print all businesses as JSON")] = False,
            category: Annotated[str | None, typer.Option(help="Only this category")] = None) -> None:
    """List the business catalogue that every channel is built from."""
    import hotline.services.service  # noqa: F401  (registers the handlers)
    from hotline.bss.products import load_products
    from hotline.catalog.loader import load_catalog
    from hotline.services.base import HANDLERS

    cat = load_catalog(handlers=HANDLERS, products=[(p.code, p.kind.value) for p in load_products()])
    chosen = [b for b in cat if category is None or b.category == category]
    if as_json:
        print(json.dumps([b.summary() for b in chosen], ensure_ascii=False, indent=2))
        return
    t = Table("名称", "category", "SMS", "auth", "confirm")
    t.columns.insert(0, Column("code", no_wrap=True))
    for b in chosen:
        t.add_row(b.code, b.name_zh, b.category, " ".join(b.summary()["sms_commands"][:4]),
                  b.auth.value, "✓" if b.confirm else "")
    console.print(t)
    console.print(f"{len(chosen)} businesses.")


@app.command()
def sms(sender: Annotated[str, typer.Argument(metavar="FROM", help="The subscriber's number")],
        text: Annotated[str, typer.Argument(help="The message text")],
        to: Annotated[str, typer.Option("--to", help="The service number (port) it is sent to")] = "10086",
        as_json: Annotated[bool, typer.Option("--json", help="Print the replies as JSON")] = False) -> None:
    """Send one SMS to the business hall on the configured database and print the replies.

    Sessions are kept in the database, so a whole flow (order, confirmation, password) works from a shell.
    """

    from hotline.bss.seed import seed_demo_if_empty
    from hotline.channels.sms.message import InboundSms

    hl = _open()
    try:
        if hl.settings.seed_demo:
            seed_demo_if_empty(hl.db, hl.bss.products, clock=hl.bss.clock, kdf_n=hl.settings.password_kdf_n,
                               synthetic=hl.settings.demo_subscribers)
        replies = asyncio.run(hl.sms.handle(InboundSms(sender, to, text, f"cli-{uuid.uuid4().hex}")))
    finally:
        hl.close()
    if as_json:
        print(json.dumps([r.as_dict() for r in replies], ensure_ascii=False))
        return
    for r in replies:
        console.print(f"[bold cyan]{r.sender} → {r.to}[/bold cyan] [dim]({r.segments} 条)[/dim]")
        print(r.text)


@app.command()
def outbox(number: Annotated[str | None, typer.Argument(metavar="[NUMBER]", help="Only this phone's messages")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
           limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="How many")] = 20) -> None:
    """Print the demo inbox, newest first: the SMS the system sent (codes included), as the phone shows them.

    Only the embedded default keeps one; with an SMS gateway (Kannel) messages reach real phones instead.
    """
    from hotline.domain.msisdn import normalize_msisdn

    hl = _open()
    try:
        wanted = None
        if number:
            try:
                wanted = normalize_msisdn(number)
            except DomainError as err:
                _fail(err)
        messages = hl.outbox.inbox_sync(wanted, limit=limit)
        demo = hl.outbox.demo
    finally:
        hl.close()
    if as_json:
        print(json.dumps([{k: m[k] for k in ("at", "from", "to", "text")} for m in messages], ensure_ascii=False))
        return
    if not demo:
        console.print("[yellow]短信经短信网关发送，不保留演示收件箱。[/yellow]\n"
                      "[dim]SMS go out through the gateway; there is no demo inbox.[/dim]")
    elif not messages:
        console.print("[dim]（没有短信 · no messages）[/dim]")
    for m in messages:
        console.print(f"[dim]{m['at'][:19].replace('T', ' ')}[/dim]  [bold cyan]{m['from']} → {m['to']}[/bold cyan]")
        print(m["text"])


def _nlu(hl: Hotline):
    from hotline.assistant.nlu import NLU

    return NLU.build(hl.catalog, hl.bss.products, clock_today=hl.bss.clock.today)


@app.command(context_settings={"allow_extra_args": False})
def nlu(args: Annotated[list[str], typer.Argument(metavar="TEXT | - | train | eval FILE.tsv",
                                                  help="An utterance; '-' reads one per line from standard input")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one object per line for '-')")] = False,
        top: Annotated[int, typer.Option(help="eval: how many worst intents and confusions to list")] = 10) -> None:
    """小贝's understanding: intent, confidence and slots of an utterance; ``train`` builds the model
    (cached; rebuilt when the catalogue changes); ``eval FILE.tsv`` measures it on a labelled file."""
    from hotline.assistant.entities import EntityExtractor
    from hotline.assistant.evaluate import evaluate, read_tsv
    from hotline.assistant.nlu import load_or_train

    hl = _open(migrate=False)
    try:
        if args[0] == "train" and len(args) == 1:
            model = load_or_train(hl.catalog, EntityExtractor(hl.bss.products), retrain=True)
            m = model.metrics
            out = {"intents": m.intents, "examples": m.examples, "seconds": round(m.seconds, 1), "folds": m.folds,
                   "cv_accuracy": round(m.cv_accuracy, 4), "cv_in_scope_accuracy": round(m.cv_in_scope_accuracy, 4),
                   "cv_oos_recall": round(m.cv_oos_recall, 4), "threshold": round(model.threshold, 3),
                   "temperature": round(model.temperature, 3)}
            print(json.dumps(out, ensure_ascii=False) if as_json else
                  f"trained {m.intents} intents on {m.examples} examples in {m.seconds:.1f}s; "
                  f"{m.folds}-fold cross-validation: accuracy {m.cv_accuracy:.1%}, in-scope "
                  f"{m.cv_in_scope_accuracy:.1%}, out-of-scope recall {m.cv_oos_recall:.1%}")
            return
        model = _nlu(hl)
        if args[0] == "eval" and len(args) == 2:
            rep = evaluate(read_tsv(args[1]), lambda t: model.understand(t).intent)
            if as_json:
                print(json.dumps(rep.as_dict(top), ensure_ascii=False))
                return
            console.print(f"{rep.total} utterances  accuracy {rep.accuracy:.1%}  macro-F1 {rep.macro_f1:.3f}  "
                          f"out-of-scope precision {rep.oos_precision:.1%} recall {rep.oos_recall:.1%}")
            console.print("[bold]worst intents[/bold] (F1, precision, recall, support)")
            for code, d in rep.worst(top):
                print(f"  {code:40s} {d['f1']:.2f}  {d['precision']:.2f}  {d['recall']:.2f}  {int(d['support'])}")
            console.print("[bold]most frequent confusions[/bold] (expected → predicted)")
            for e, p, c in rep.confusions[:top]:
                print(f"  {c:3d}  {e} → {p}")
            return
        lines = sys.stdin if args == ["-"] else [" ".join(args)]
        for line in lines:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            u = model.understand(text)
            if as_json:
                print(json.dumps({"text": u.text, "intent": u.intent, "confidence": round(u.confidence, 4),
                                  "slots": u.slots}, ensure_ascii=False), flush=True)
            else:
                b = hl.catalog.by_code.get(u.intent)
                name = f" {b.name_zh}" if b else ""
                print(f"{u.intent}{name}  confidence {u.confidence:.2f}")
                for k, v in u.slots.items():
                    print(f"  {k}: {v}")
    finally:
        hl.close()


@app.command()
def chat(msisdn: Annotated[str, typer.Argument(help="The customer's number (this terminal stands for their phone)")],
         lang: Annotated[str | None,
                         typer.Option(help="zh or en (default: the subscriber's language)")] = None) -> None:
    """Talk to 小贝 in the terminal as the customer with this number; an empty line or Ctrl-D ends."""
    from hotline.bss.seed import seed_demo_if_empty

    hl = _open()

    async def run() -> None:
        if hl.settings.seed_demo:
            await asyncio.to_thread(seed_demo_if_empty, hl.db, hl.bss.products, clock=hl.bss.clock,
                                    kdf_n=hl.settings.password_kdf_n, synthetic=hl.settings.demo_subscribers)
        assistant = await asyncio.to_thread(lambda: hl.assistant)
        conversation: str | None = None     # the server names it on the first answer
        console.print("[dim]小贝已上线，输入内容与小贝对话，空行结束。[/dim]")
        while True:
            try:
                text = await asyncio.to_thread(input, "您：")
            except EOFError:
                break
            if not text.strip():
                break
            result = await assistant.handle(text, conversation_id=conversation, msisdn=msisdn, channel="cli",
                                            lang=lang, verified=True)
            conversation = result.conversation_id
            for r in result.replies:
                console.print(f"[bold magenta]小贝：[/bold magenta]{r.text}", highlight=False)
            if result.handoff:
                console.print(f"[dim]（已生成转人工事件：{json.dumps(result.handoff, ensure_ascii=False)}）[/dim]")

    try:
        asyncio.run(run())
    finally:
        hl.close()


@billing_app.command("rollover")
def billing_rollover(cycle: Annotated[int | None, typer.Option(
        help="Target cycle YYYYMM: the current one (default) or earlier; only ended cycles are closed")] = None,
) -> None:
    """Close billing cycles up to the target: bills, monthly fees, expiry, plan changes, arrears."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from hotline.bss.rollover import check_target, pending_accounts, rollover_all

    hl = _open()
    try:
        target = check_target(hl.bss, cycle)
        total = asyncio.run(pending_accounts(hl.bss, target))
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task(f"rollover to {target}", total=total)
            n = asyncio.run(rollover_all(hl.bss, target, lambda done, _: bar.update(task, completed=done)))
    except DomainError as err:
        _fail(err)
    finally:
        hl.close()
    console.print(f"Rolled {n} account-cycles.")


@apikey_app.command("create")
def apikey_create(scope: Annotated[list[str], typer.Option("--scope", help="read, write, billing or admin; "
                                                           "repeat for several")],
                  name: Annotated[str, typer.Option(help="What the key is for (shown in lists)")] = "",
                  as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Create an API key and print it once: only its hash is kept."""
    hl = _open()
    try:
        key, token = hl.apikeys.create(scope, name=name, created_by="cli")
    except DomainError as err:
        _fail(err)
    finally:
        hl.close()
    if as_json:
        print(json.dumps({**key.as_dict(), "key": token}, ensure_ascii=False))
        return
    console.print(f"API key {key.id} ({key.prefix}, scopes: {' '.join(sorted(key.scopes))}). "
                  "Shown once, keep it safe:", highlight=False)
    print(token)


@apikey_app.command("list")
def apikey_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List API keys (id, prefix, name, scopes, revoked); the keys themselves are not stored."""
    hl = _open()
    try:
        keys = hl.apikeys.list()
    finally:
        hl.close()
    if as_json:
        print(json.dumps([k.as_dict() for k in keys], ensure_ascii=False))
        return
    t = Table("id", "prefix", "name", "scopes", "created", "status")
    for k in keys:
        t.add_row(k.id, k.prefix, k.name, " ".join(s for s in SCOPES if s in k.scopes), k.created_at[:19],
                  "revoked" if k.revoked else "active")
    console.print(t)


@apikey_app.command("revoke")
def apikey_revoke(ident: Annotated[str, typer.Argument(metavar="ID", help="The key's id or prefix")]) -> None:
    """Revoke an API key: refused at once by this server, within seconds by running ones."""
    hl = _open()
    try:
        key = hl.apikeys.revoke(ident)
    except DomainError as err:
        _fail(err)
    finally:
        hl.close()
    console.print(f"Revoked API key {key.id} ({key.prefix}).", highlight=False)


@cards_app.command("create")
def cards_create(value: Annotated[int, typer.Option("--value", help="Face value in fen (5000 = ¥50)")],
                 count: Annotated[int, typer.Option("--count", help="How many cards")] = 1,
                 batch: Annotated[str, typer.Option(help="A batch name for the records")] = "",
                 as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Make top-up cards and print their serials and PINs once: only salted PIN digests are kept."""
    hl = _open()
    try:
        made = asyncio.run(hl.bss.create_cards(value, count, batch=batch))
    except DomainError as err:
        _fail(err)
    finally:
        hl.close()
    rows = [{"serial": c.serial, "pin": c.pin, "face_value_fen": c.face_value_fen,
             "expires_on": c.expires_on.isoformat()} for c in made]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    console.print(f"{len(rows)} cards of ¥{yuan(value)}, valid until {rows[0]['expires_on']}. "
                  "PINs are shown once, print them now:", highlight=False)
    for r in rows:
        print(f"{r['serial']}  {r['pin']}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (also done at every start)."""
    hl = _open()
    hl.close()
    console.print("Schema is up to date.")


if __name__ == "__main__":  # pragma: no cover
    app()
