"""The weekly digest: sent through a real local SMTP server (aiosmtpd), read back, and checked
against counts computed here from the database."""

from __future__ import annotations

import email
import html
import re
import socket
from datetime import date
from email import policy

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from valuation import cli, digest, features
from valuation import warnings as W
from valuation.analysis import analyse
from valuation.config import DEFAULT_SETTINGS_PATH, SettingsError, load_settings, parse_settings
from valuation.settings_store import active_settings
from valuation.store import Store, copy_database

HOSTILE = "<img src=x onerror=alert(1)>"
NOTE = "<script>alert('note')</script> & call back"
TODAY = date(2026, 11, 2)  # the week of the idempotency key (ISO 2026-W45)
TIERS = {"A": 0, "B": 1, "C": 2, "D": 3}  # the default tiers, top first
SECTIONS_EN = {"new": r"New work orders this week \((\d+)\)",
               "escalated": r"Escalated work orders \((\d+)\)",
               "overdue": r"Overdue work orders \((\d+)\)",
               "tier_drop": r"Accounts whose tier dropped since 2026-09-30 \((\d+)\)"}


# ---------------------------------------------------------------------------------------------
# Fixtures: a local SMTP server, a demo copy prepared for the digest
# ---------------------------------------------------------------------------------------------
class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def by_address(self) -> dict[str, email.message.EmailMessage]:
        out: dict[str, email.message.EmailMessage] = {}
        for rcpt, msg in self.messages:
            assert len(rcpt) == 1
            assert rcpt[0] not in out, f"two mails to {rcpt[0]}"
            out[rcpt[0]] = msg
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def smtp():
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()  # returns once the server answers
    inbox.env = {"VALUATION_SMTP_HOST": "127.0.0.1", "VALUATION_SMTP_PORT": str(port)}
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture()
def db(demo_path, tmp_path):
    """A demo copy with: am02 without an address, am05 with a broken one, a hostile account
    name and note on one of am01's escalated orders, one of am01's overdue orders closed."""
    path = copy_database(demo_path, tmp_path / "d.duckdb")
    with Store(path) as s:
        users = s.read_table("users")
        users.loc[users["user_id"] == "am02", "email"] = None
        users.loc[users["user_id"] == "am05", "email"] = "not-an-address"
        orders = W.open_orders(s)
        mine = orders[orders["owner_id"] == "am01"]
        target = mine[mine["escalated"]].iloc[0]
        accounts = s.read_table("accounts")
        hit = accounts["account_id"] == target["account_id"]
        accounts.loc[hit, ["name", "name_en"]] = HOSTILE
        s.replace_facts({"users": users, "accounts": accounts}, source="test")
        W.add_note(s, target["work_order_id"], NOTE, user="am01")
        overdue = mine[(mine["due_date"] < pd.Timestamp("2026-10-31")) & ~mine["escalated"]
                       & (mine["work_order_id"] != target["work_order_id"])]
        closed = overdue.iloc[0]
        W.transition(s, closed["work_order_id"], "false_alarm", user="am01",
                     expected_version=int(closed["version"]))
    return path


# ---------------------------------------------------------------------------------------------
# What the mails should say, computed here from the database
# ---------------------------------------------------------------------------------------------
def _expected(s: Store) -> pd.DataFrame:
    """Per owner: new (first hit 2026-10-25..31), escalated, overdue (due before 2026-10-31)
    open orders of the accounts they own, and tier drops since the 2026-09-30 snapshot."""
    counts = s.query("""
        SELECT a.owner_id,
               count(*) FILTER (WHERE w.first_hit BETWEEN DATE '2026-10-25' AND DATE '2026-10-31')
                   AS new,
               count(*) FILTER (WHERE w.escalated) AS escalated,
               count(*) FILTER (WHERE w.due_date < DATE '2026-10-31') AS overdue
        FROM work_orders w JOIN accounts a ON a.account_id = w.account_id
        WHERE w.status IN ('new', 'assigned', 'contacted')
        GROUP BY a.owner_id""").set_index("owner_id")
    now = analyse(features.account_frame(s), active_settings(s)).frame
    now = now.loc[~now["churned"].astype(bool), ["account_id", "owner_id", "tier"]]
    before = s.query("SELECT account_id, tier AS before FROM score_snapshots "
                     "WHERE as_of = DATE '2026-09-30'")
    m = now.merge(before, on="account_id")
    drops = m[m["tier"].map(TIERS) > m["before"].map(TIERS)]
    counts["tier_drop"] = drops.groupby("owner_id").size()
    users = s.query("SELECT user_id, name, name_en, role, team_id FROM users").set_index(
        "user_id")
    managers = users.index[users["role"] == "account_manager"]
    counts = counts.reindex(managers).fillna(0).astype(int)
    counts["team_id"] = users.loc[counts.index, "team_id"]
    counts.attrs["drops"] = drops
    return counts


def _section(text: str, pattern: str) -> tuple[int, list[str]]:
    """The count in a section's heading and the account ids linked under it."""
    m = re.search(r"== " + pattern + r" ==\n(.*?)(?:\n\n|\Z)", text, flags=re.S)
    assert m, pattern
    return int(m.group(1)), re.findall(r"/account\?account=(\S+)", m.group(2))


def _bodies(msg: email.message.EmailMessage) -> tuple[str, str]:
    return tuple(msg.get_body((kind,)).get_content().replace("\r\n", "\n")
                 for kind in ("plain", "html"))  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
def test_one_mail_per_manager_with_the_counts_of_the_database(db, smtp):
    with Store(db) as s:
        out = digest.run(s, lang="en", today=TODAY, env=smtp.env)
        want = _expected(s)
        users = s.query("SELECT * FROM users").set_index("user_id")
        owner = s.query("SELECT account_id, owner_id FROM accounts").set_index(
            "account_id")["owner_id"]
        open_ = W.open_orders(s)
    assert want[["new", "escalated", "overdue", "tier_drop"]].to_numpy().sum() > 0
    assert (want["new"] > 0).sum() >= 2 and (want["tier_drop"] > 0).sum() >= 2
    mails = smtp.by_address()
    status = {o["user_id"]: o for o in out["outcomes"]}
    # every manager and lead with a usable address got exactly one mail; am02 and am05 none
    with_address = [u for u in users.index if users.loc[u, "role"] in ("account_manager",
                                                                         "sales_lead")
                    and u not in ("am02", "am05")]
    assert sorted(mails) == sorted(users.loc[with_address, "email"])
    assert status["am02"]["status"] == "skipped" and "no e-mail" in status["am02"]["detail"]
    assert status["am05"]["status"] == "skipped" and "invalid" in status["am05"]["detail"]
    assert {o["status"] for u, o in status.items() if u not in ("am02", "am05")} == {"sent"}

    for uid in want.index.drop(["am02", "am05"]):
        msg = mails[users.loc[uid, "email"]]
        name = users.loc[uid, "name_en"]
        assert msg["Subject"] == f"Weekly digest 2026-10-31: {name}"
        assert msg["To"].addresses[0].display_name == name
        text, body = _bodies(msg)
        for section, pattern in SECTIONS_EN.items():
            n, linked = _section(text, pattern)
            assert n == want.loc[uid, section], (uid, section)
            assert len(linked) == min(n, 50), (uid, section)
            assert set(owner.reindex(linked)) <= {uid}  # links to their own accounts only
            assert body.count(f'href="http://localhost:8501/account?account=') >= len(linked)
        new = open_[(open_["owner_id"] == uid) & (open_["first_hit"] >= "2026-10-25")]
        assert sorted(_section(text, SECTIONS_EN["new"])[1]) == sorted(new["account_id"])
        # people are named, never shown by user id
        assert not re.search(r"\b(am|lead|exec)\d\d\b", text + body), uid

    # the hostile account name and note: escaped in the HTML part, whole in the text part
    text, body = _bodies(mails[users.loc["am01", "email"]])
    assert HOSTILE in text and NOTE in text
    assert html.escape(HOSTILE) in body and html.escape(NOTE) in body
    assert HOSTILE not in body and "<script" not in body and "<img" not in body

    # a lead: counts per manager of the team, the team's sections over all of them
    lead = users[(users["role"] == "sales_lead") & (users["team_id"] == "T01")].index[0]
    text, body = _bodies(mails[users.loc[lead, "email"]])
    assert mails[users.loc[lead, "email"]]["Subject"].startswith("Team weekly digest 2026-10-31")
    team = want[want["team_id"] == "T01"]
    assert len(team) >= 2
    for uid, r in team.iterrows():
        assert (f"- {users.loc[uid, 'name_en']}: {r['new']} new, {r['escalated']} escalated, "
                f"{r['overdue']} overdue, {r['tier_drop']} tier drops") in text
    for section, pattern in SECTIONS_EN.items():
        n, linked = _section(text, pattern)
        assert n == team[section].sum(), section
        assert len(linked) == min(n, 50)
        assert set(owner.reindex(linked)) <= set(team.index)
    if team["overdue"].sum() > 50:
        assert f"… and {team['overdue'].sum() - 50} more in the app" in text
    assert html.escape(HOSTILE) in body and HOSTILE not in body


def test_chinese_by_default_dry_run_sends_nothing_and_a_second_run_is_idempotent(db, smtp):
    with Store(db) as s:
        dry = digest.run(s, dry_run=True, today=TODAY, env=smtp.env)
        assert smtp.messages == []
        assert not len(digest.sent_before(s, dry["key"]))
        would = [o for o in dry["outcomes"] if o["status"] == "would send"]
        assert len(would) == 9 and all(o["subject"] for o in would)

        first = digest.run(s, today=TODAY, env=smtp.env)
        assert sum(o["status"] == "sent" for o in first["outcomes"]) == 9 == len(smtp.messages)
        subjects = {rcpt[0]: m["Subject"] for rcpt, m in smtp.messages}
        users = s.query("SELECT user_id, name, email, team_id FROM users").set_index("user_id")
        teams = s.query("SELECT team_id, name FROM teams").set_index("team_id")["name"]
        assert subjects[users.loc["am01", "email"]] == \
            f"客户周报 2026-10-31：{users.loc['am01', 'name']}"
        assert subjects[users.loc["lead01", "email"]] == \
            f"团队周报 2026-10-31：{teams[users.loc['lead01', 'team_id']]}"
        text, _ = _bodies(smtp.by_address()[users.loc["am01", "email"]])
        assert "本周新增工单（" in text and "逾期工单（" in text and "层级下降的客户（" in text

        again = digest.run(s, today=TODAY, env=smtp.env)
        assert len(smtp.messages) == 9  # nothing sent twice
        already = [o for o in again["outcomes"] if "already sent" in o["detail"]]
        assert len(already) == 9 and {o["status"] for o in already} == {"skipped"}

        later = digest.run(s, today=date(2026, 11, 9), env=smtp.env, to="am03")  # next week
        assert [o["status"] for o in later["outcomes"]] == ["sent"]
        forced = digest.run(s, today=TODAY, env=smtp.env, force=True, to="am01")
        assert [o["status"] for o in forced["outcomes"]] == ["sent"]
        assert len(smtp.messages) == 11
        runs = s.app.select("audit_log", s.app.tables["audit_log"].c.action == digest.ACTION)
        assert len(runs) == 3  # the dry run and the idempotent run recorded nothing


def test_the_command(db, smtp, monkeypatch, capsys):
    monkeypatch.setenv("VALUATION_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("VALUATION_SMTP_PORT", smtp.env["VALUATION_SMTP_PORT"])
    monkeypatch.setattr(digest, "_today", lambda: TODAY)
    assert cli.main(["digest", "--db", str(db), "--dry-run", "--lang", "en", "--to", "am01"]) == 0
    out = capsys.readouterr().out
    assert smtp.messages == []
    assert "=== to: " in out and "<am01@" in out and "subject: Weekly digest 2026-10-31: " in out
    assert "== Overdue work orders (" in out and "/account?account=" in out

    assert cli.main(["digest", "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(smtp.messages) == 9
    assert sum(line.startswith("sent ") for line in out) == 9
    assert any(line.startswith("skipped") and "(am02): " in line and "no e-mail address" in line
               for line in out)
    assert cli.main(["digest", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert len(smtp.messages) == 9 and out.count("already sent") == 9

    assert cli.main(["digest", "--db", str(db), "--to", "exec01"]) == 2
    assert "account managers and sales leads" in capsys.readouterr().err
    assert cli.main(["digest", "--db", str(db), "--to", "nobody"]) == 2


def test_an_unreachable_server_fails_each_mail_and_records_nothing(db, smtp):
    closed = {"VALUATION_SMTP_HOST": "127.0.0.1", "VALUATION_SMTP_PORT": str(_free_port())}
    with Store(db) as s:
        out = digest.run(s, today=TODAY, env=closed, to="am01")
        assert [o["status"] for o in out["outcomes"]] == ["failed"]
        assert "cannot reach the SMTP server" in out["outcomes"][0]["detail"]
        assert not digest.sent_before(s, out["key"])
        again = digest.run(s, today=TODAY, env=smtp.env, to="am01")  # the server is back
        assert [o["status"] for o in again["outcomes"]] == ["sent"] and len(smtp.messages) == 1


def test_without_an_earlier_snapshot_the_mail_says_so(db):
    with Store(db) as s:
        with s.facts_session() as con:
            con.execute("DELETE FROM score_snapshots WHERE as_of < DATE '2026-10-31'")
        digests, _, ctx = digest.build_digests(s, lang="en")
    assert ctx["previous_snapshot"] is None and digests
    for d in digests:
        assert d.counts["tier_drop"] is None
        assert "there is no earlier score snapshot to compare with" in d.text
        assert "tier dropped since" not in d.text
        assert "there is no earlier score snapshot" in d.html


def test_escape_is_html_escape_over_a_column():
    values = [HOSTILE, NOTE, "\"quoted\" & 'single'", "普通客户", "a<b>c&amp;"]
    got = digest.escape(pd.Series(values)).tolist()
    assert got == [html.escape(v) for v in values]


def test_smtp_settings_come_from_the_file_the_environment_overrides():
    text = DEFAULT_SETTINGS_PATH.read_text(encoding="utf-8").replace(
        'smtp_host = "localhost"', 'smtp_host = "mail.example.cn"').replace(
        "smtp_port = 25", "smtp_port = 587").replace('smtp_user = ""', 'smtp_user = "bot"')
    s = parse_settings(text)
    with pytest.raises(ValueError, match="VALUATION_SMTP_PASSWORD"):
        digest.smtp_config(s, env={})
    cfg = digest.smtp_config(s, env={"VALUATION_SMTP_PASSWORD": "s3cret"})
    assert (cfg.host, cfg.port, cfg.user, cfg.password) == ("mail.example.cn", 587, "bot",
                                                            "s3cret")
    assert "s3cret" not in repr(cfg)
    cfg = digest.smtp_config(s, env={"VALUATION_SMTP_PASSWORD": "x",
                                     "VALUATION_SMTP_HOST": "relay", "VALUATION_SMTP_PORT": "2525"})
    assert (cfg.host, cfg.port) == ("relay", 2525)
    with pytest.raises(ValueError, match="VALUATION_SMTP_PORT"):
        digest.smtp_config(s, env={"VALUATION_SMTP_PASSWORD": "x", "VALUATION_SMTP_PORT": "smtp"})
    d = load_settings()
    assert d.get("digest.default_lang") == "zh" and d.get("digest.base_url").startswith("http")
    assert digest.smtp_config(d, env={}).password is None


@pytest.mark.parametrize("line, bad", [
    ('default_lang = "zh"', 'default_lang = "fr"'),
    ("smtp_port = 25", "smtp_port = 0"),
    ("max_items = 50", "max_items = 0"),
    ('base_url = "http://localhost:8501"', 'base_url = "localhost:8501"'),
])
def test_digest_settings_are_checked(line, bad):
    text = DEFAULT_SETTINGS_PATH.read_text(encoding="utf-8")
    assert line in text
    with pytest.raises(SettingsError, match="digest."):
        parse_settings(text.replace(line, bad))
