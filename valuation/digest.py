"""The weekly digest: one e-mail per account manager, a team summary per sales lead.

An account manager's mail lists, for the accounts they own, the open work orders that are
new this week (first hit within the 7 days ending at the data's as-of date), escalated, or
overdue (due before the as-of date), and the accounts whose tier dropped since the previous
score snapshot (the latest stored snapshot before the as-of date, compared with the tiers of
the analysis the app serves); without an earlier snapshot the mail says so. A sales lead's
mail counts the same per member of the team and lists the same sections for the team's
accounts. Every item links into the app (``{digest.base_url}/account?account=<id>``).

Recipients: account managers who own at least one live account, and sales leads whose team
owns one; executives and admins get no digest. People are named, never shown by user id.
Users have no language of their own: every mail is in ``digest.default_lang`` unless
``--lang`` says otherwise. A recipient without a usable ``email`` is reported as skipped.

Mails go out through ``smtplib`` (settings ``digest.smtp_*``; ``VALUATION_SMTP_HOST`` and
``VALUATION_SMTP_PORT`` override the file, the password comes only from
``VALUATION_SMTP_PASSWORD``) as plain text with an HTML alternative in which every string
that came from data (account names, notes, people's names) is escaped exactly as
``html.escape`` does. A run is recorded in the audit log as the scheduled jobs record theirs
(``action = 'job:digest'``, the data version and ISO week as its key, who was sent what as
JSON), so a second run for the same data version and week sends nobody twice unless forced.

The items are selected and rendered column-wise (pandas); only the assembly of each mail
and the sending loop over recipients.
"""

from __future__ import annotations

import html
import json
import os
import re
import smtplib
import ssl
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from email import errors as email_errors
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from valuation import history, i18n, prepared
from valuation.config import Settings
from valuation.features import frame_as_of, live_accounts
from valuation.settings_store import settings_by_id
from valuation.store import Store
from valuation.warnings import open_orders

__all__ = [
    "ACTION",
    "SECTIONS",
    "Digest",
    "SmtpConfig",
    "build_digests",
    "escape",
    "message",
    "run",
    "sent_before",
    "smtp_config",
    "week_of",
]

SECTIONS = ("new", "escalated", "overdue", "tier_drop")
ACTION = "job:digest"  # the audit-log action of a run, beside the jobs' job:<name>
_NEW_DAYS = 7  # "new this week": first hit within the 7 days ending at the as-of date
_TIMEOUT = 30  # seconds, per SMTP operation
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_SAFE_ID = r"[A-Za-z0-9._~-]*"


@dataclass(frozen=True)
class Digest:
    """One recipient's mail: who (name in the mail's language), the address (None when
    missing), the subject, the plain-text and HTML bodies, and the counts per section
    (``tier_drop`` None when there is no earlier snapshot)."""

    user_id: str
    name: str
    role: str
    email: str | None
    lang: str
    subject: str
    text: str
    html: str
    counts: dict[str, int | None]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    starttls: bool
    user: str
    password: str | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------
# Building the mails
# ---------------------------------------------------------------------------------------------
def build_digests(
    store: Store, *, lang: str | None = None, to: str | None = None,
) -> tuple[list[Digest], list[dict[str, Any]], dict[str, Any]]:
    """The digests of the store's current data: (digests, not eligible, context).

    ``lang`` overrides ``digest.default_lang``; ``to`` limits it to one user (ValueError for
    an unknown user or one who gets no digest). "Not eligible" lists account managers who
    own no live account and sales leads whose team owns none, each {user_id, name, reason}.
    ``context`` holds as_of, the previous snapshot date (or None) and the settings used.
    """
    if not store.has_facts:
        raise ValueError("the database has no data yet: import (or create the demo) first")
    b = prepared.build(store)
    settings = settings_by_id(store, b.settings_id)
    a = prepared.load(store, b.data_version, b.settings_id, settings)
    if a is None:  # pruned by a newer build meanwhile
        raise ValueError("the analysis changed while the digest was being built: run it again")
    frame = a.frame
    as_of = frame_as_of(store, frame, None)
    lang = lang or str(settings.get("digest.default_lang"))
    if lang not in i18n.LANGS:
        raise ValueError(f"language {lang!r}: one of {', '.join(i18n.LANGS)}")
    live = live_accounts(frame, ["account_id", "name", "name_en", "owner_id", "team_id", "tier"])
    users = store.query("SELECT user_id, name, name_en, role, team_id, email FROM users "
                        "ORDER BY user_id")
    teams = store.query("SELECT team_id, name, name_en FROM teams")
    recipients, not_eligible = _recipients(users, live, to)
    recipients["lang"] = lang
    items, prev_date = _items(store, live, settings, as_of)
    ctx = {"as_of": as_of, "previous_snapshot": prev_date, "settings": settings,
           "data_version": b.data_version}
    if recipients.empty:
        return [], not_eligible, ctx
    digests = _render(recipients, items, users, teams, settings, as_of, prev_date)
    return digests, not_eligible, ctx


def _recipients(users: pd.DataFrame, live: pd.DataFrame, to: str | None
                ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Account managers owning a live account and sales leads whose team owns one."""
    owns = users["user_id"].isin(live["owner_id"].dropna())
    team_owns = users["team_id"].isin(live.loc[live["owner_id"].isin(users["user_id"]),
                                               "team_id"].dropna())
    am = users["role"].eq("account_manager")
    lead = users["role"].eq("sales_lead")
    eligible = (am & owns) | (lead & users["team_id"].notna() & team_owns)
    if to is not None:
        hit = users["user_id"].eq(to)
        if not hit.any():
            raise ValueError(f"no user {to!r}")
        u = users[hit].iloc[0]
        if u["role"] not in ("account_manager", "sales_lead"):
            raise ValueError(f"{to} ({u['name']}) has the role {u['role']}: the digest goes "
                             "to account managers and sales leads")
        users, eligible, am = users[hit], eligible[hit], am[hit]
    out = users[eligible].copy()
    out["kind"] = np.where(out["role"].eq("account_manager"), "manager", "lead")
    out = out.sort_values(["kind", "user_id"], ascending=[False, True], ignore_index=True)
    rest = users[(am | users["role"].eq("sales_lead")) & ~eligible]
    why = np.where(rest["role"].eq("account_manager"), "owns no live account",
                   np.where(rest["team_id"].isna(), "has no team",
                            "the team owns no live account"))
    not_eligible = [{"user_id": u, "name": n, "reason": r}
                    for u, n, r in zip(rest["user_id"], rest["name"], why, strict=True)]
    return out, not_eligible


def _items(store: Store, live: pd.DataFrame, settings: Settings, as_of: date
           ) -> tuple[pd.DataFrame, date | None]:
    """Long rows, one per (section, order or account): section, account_id, name, name_en,
    owner_id, team_id, work_order_id, rule, severity, due_date, assignee_id, note,
    prev_tier, tier, overdue_days, _order (sort key within a section, smallest first)."""
    day = pd.Timestamp(as_of).normalize()
    o = open_orders(store)
    o = o.rename(columns={"account_name": "name", "account_name_en": "name_en"})
    first = pd.to_datetime(o["first_hit"])
    due = pd.to_datetime(o["due_date"])
    masks = {
        "new": (first > day - pd.Timedelta(days=_NEW_DAYS)) & (first <= day),
        "escalated": o["escalated"].fillna(False).astype(bool),
        "overdue": due < day,
    }
    o = o.assign(due_date=due, overdue_days=(day - due).dt.days, _order=-o["severity"])
    parts = [o.loc[m.to_numpy()].assign(section=s) for s, m in masks.items()]

    dates = [d for d in history.snapshot_dates(store) if d < pd.Timestamp(as_of).date()]
    prev_date = dates[-1] if dates else None
    if prev_date is not None:
        prev = history.load_snapshot(store, prev_date)[["account_id", "tier"]]
        m = live.merge(prev.rename(columns={"tier": "prev_tier"}), on="account_id")
        rank = {t.code: i for i, t in enumerate(settings.tiers)}  # top tier first
        r_new, r_old = m["tier"].map(rank), m["prev_tier"].map(rank)
        drops = m[(r_new > r_old).to_numpy()]
        parts.append(drops.assign(section="tier_drop",
                                  _order=-(r_new - r_old)[(r_new > r_old).to_numpy()]))
    cols = ["section", "account_id", "name", "name_en", "owner_id", "team_id", "work_order_id",
            "rule", "severity", "due_date", "assignee_id", "note", "prev_tier", "tier",
            "overdue_days", "_order"]
    parts = [p.reindex(columns=[c for c in cols if c in p.columns]).dropna(axis=1, how="all")
             for p in parts if len(p)]
    items = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()).reindex(
        columns=cols)
    items["due_date"] = pd.to_datetime(items["due_date"])
    items["overdue_days"] = pd.to_numeric(items["overdue_days"])
    items["_order"] = pd.to_numeric(items["_order"])
    return items, prev_date


def _render(recipients: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame,
            teams: pd.DataFrame, settings: Settings, as_of: date, prev_date: date | None
            ) -> list[Digest]:
    base = str(settings.get("digest.base_url")).rstrip("/")
    cap = int(settings.get("digest.max_items"))
    managers = recipients[recipients["kind"] == "manager"]
    leads = recipients[recipients["kind"] == "lead"]
    # every item once per recipient it concerns: the owner, and the lead of the owner's team
    mine = items.merge(managers[["user_id", "lang"]], left_on="owner_id", right_on="user_id")
    team = items.merge(leads[["user_id", "team_id", "lang"]], on="team_id")
    ri = pd.concat([mine.assign(kind="manager"), team.assign(kind="lead")], ignore_index=True)
    ri = ri.sort_values(["user_id", "section", "_order", "due_date", "account_id",
                         "work_order_id"], na_position="last", ignore_index=True)
    g = ri.groupby(["user_id", "section"], sort=False)
    counts = g.size()
    ri["_pos"] = g.cumcount()
    shown = ri[ri["_pos"] < cap].reset_index(drop=True)

    lines_text = pd.Series("", index=shown.index, dtype=object)
    lines_html = pd.Series("", index=shown.index, dtype=object)
    for lang in shown["lang"].unique():  # one or two languages, never a loop over accounts
        m = (shown["lang"] == lang).to_numpy()
        t, h = _item_lines(shown[m], users, settings, base, lang)
        lines_text[m], lines_html[m] = t, h
    shown["_text"], shown["_html"] = lines_text, lines_html
    gs = shown.groupby(["user_id", "section"], sort=False)
    text_blocks = gs["_text"].agg("\n".join)
    html_blocks = gs["_html"].agg("".join)
    shown_n = gs.size()
    member_rows = _member_rows(team, leads, users, prev_date)

    names = _people(users)
    team_names = teams.set_index("team_id")
    out = []
    for r in recipients.itertuples(index=False):  # the mails, one per recipient
        lang = r.lang
        name = _clean(names[lang].get(r.user_id, r.name))
        n = {s: int(counts.get((r.user_id, s), 0)) for s in SECTIONS}
        if prev_date is None:
            n["tier_drop"] = None  # type: ignore[assignment]
        ctx = _Mail(lang=lang, as_of=as_of, prev_date=prev_date, base=base)
        if r.kind == "lead":
            tname = _team_name(team_names, r.team_id, lang)
            subject = i18n.t("digest.subject_lead", lang, date=as_of.isoformat(), team=tname)
            intro = i18n.t("digest.intro_lead", lang, team=tname, date=as_of.isoformat())
            table = member_rows.get(r.user_id, {}).get(lang)
        else:
            subject = i18n.t("digest.subject", lang, date=as_of.isoformat(), name=name)
            intro = i18n.t("digest.intro", lang, date=as_of.isoformat())
            table = None
        blocks = {s: (text_blocks.get((r.user_id, s)), html_blocks.get((r.user_id, s)),
                      int(shown_n.get((r.user_id, s), 0))) for s in SECTIONS}
        text, body = ctx.bodies(name, intro, n, blocks, table)
        email = r.email if isinstance(r.email, str) and r.email.strip() else None
        out.append(Digest(user_id=str(r.user_id), name=name, role=str(r.role),
                          email=email.strip() if email else None, lang=lang,
                          subject=_clean(subject), text=text, html=_page(subject, body, lang),
                          counts=n))
    return out


def _item_lines(df: pd.DataFrame, users: pd.DataFrame, settings: Settings, base: str,
                lang: str) -> tuple[pd.Series, pd.Series]:
    """The text and HTML line of every item of one language (whole columns)."""
    idx = df.index
    zh = lang.startswith("zh")
    en = df["name_en"].where(df["name_en"].notna() & df["name_en"].ne(""), df["name"])
    acc = _clean_col(df["name"] if zh else en)
    acc = acc.where(acc.ne(""), df["account_id"].astype(str))
    ids = df["account_id"].astype(str)
    link = base + "/account?account=" + _quote(ids)
    is_order = df["section"].ne("tier_drop").to_numpy()
    names = _people(users)[lang]

    rules = {r: i18n.rule(r, lang) for r in df["rule"].dropna().unique()}
    tiers = {t.code: f"{t.code} {t.label(lang)}" for t in settings.tiers}
    assignee = df["assignee_id"].map(names)
    assignee = assignee.where(assignee.notna(), np.where(
        df["assignee_id"].isna(), i18n.t("digest.unassigned", lang),
        i18n.t("digest.not_a_user", lang)))
    owner = df["owner_id"].map(names).fillna(i18n.t("digest.unassigned", lang))
    due = df["due_date"].dt.strftime("%Y-%m-%d").fillna("-")
    note = _clean_col(df["note"].fillna(""))

    pieces: list[tuple[np.ndarray, str, dict[str, pd.Series]]] = [
        (is_order, "digest.due", {"date": due}),
        (df["section"].eq("overdue").to_numpy(), "digest.overdue_days",
         {"days": df["overdue_days"].astype("Int64").astype(str)}),
        (is_order, "digest.assignee", {"name": _clean_col(assignee)}),
        (~is_order, "digest.tier_change", {"old": _labels(df["prev_tier"], tiers),
                                            "new": _labels(df["tier"], tiers)}),
        (df["kind"].eq("lead").to_numpy(), "digest.owner", {"name": _clean_col(owner)}),
        (note.ne("").to_numpy(), "digest.note", {"note": note}),
    ]
    rule = _clean_col(_labels(df["rule"], rules))
    text = "- " + acc + " (" + ids + ")" + np.where(is_order, " · " + rule, "")
    htm = ('<li><a href="' + escape(link) + '">' + escape(acc) + "</a> (" + escape(ids) + ")"
           + np.where(is_order, " · " + escape(rule), ""))
    for mask, key, cols in pieces:  # a loop over the parts of a line, not over items
        tmpl = i18n.STRINGS[key][1 if zh else 0]
        text = text + np.where(mask, " · " + _vformat(tmpl, idx, cols), "")
        htm = htm + np.where(mask, " · " + _vformat(tmpl, idx, cols, html_=True), "")
    return (pd.Series(text, index=idx) + "\n  " + link,
            pd.Series(htm, index=idx) + "</li>")


def _member_rows(team: pd.DataFrame, leads: pd.DataFrame, users: pd.DataFrame,
                 prev_date: date | None) -> dict[str, dict[str, tuple[str, str]]]:
    """Per lead and language: the counts per member of the team (its account managers and
    anyone else owning an item of it) as text lines and HTML table rows."""
    if leads.empty:
        return {}
    team_am = (users.loc[users["role"].eq("account_manager"), ["user_id", "team_id"]]
               .rename(columns={"user_id": "owner_id"}))
    members = leads[["user_id", "team_id", "lang"]].merge(team_am, on="team_id")
    owners = team[["user_id", "owner_id", "lang"]].dropna(subset=["owner_id"])
    members = pd.concat([members[["user_id", "owner_id", "lang"]], owners], ignore_index=True)
    members = members.drop_duplicates(["user_id", "owner_id"], ignore_index=True)
    c = (team.groupby(["user_id", "owner_id", "section"]).size().unstack("section")
         .reindex(columns=list(SECTIONS)))
    members = members.merge(c, left_on=["user_id", "owner_id"], right_index=True, how="left")
    for s in SECTIONS:
        members[s] = members[s].fillna(0).astype(int).astype(str)
    if prev_date is None:
        members["tier_drop"] = "-"
    names = _people(users)
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for lang in members["lang"].unique():  # one or two languages
        m = members[members["lang"] == lang].copy()
        m["_name"] = _clean_col(m["owner_id"].map(names[lang]).fillna(
            i18n.t("digest.not_a_user", lang)))
        m = m.sort_values(["user_id", "_name"])
        cols = {"name": m["_name"], "new": m["new"], "escalated": m["escalated"],
                "overdue": m["overdue"], "tier": m["tier_drop"]}
        tmpl = i18n.STRINGS["digest.member_counts"][1 if lang.startswith("zh") else 0]
        m["_text"] = "- " + _vformat(tmpl, m.index, cols)
        cell = '</td><td align="right">'
        m["_html"] = ("<tr><td>" + escape(m["_name"]) + cell + m["new"] + cell
                      + m["escalated"] + cell + m["overdue"] + cell + m["tier_drop"]
                      + "</td></tr>")
        g = m.groupby("user_id", sort=False)
        for uid, t, h in zip(g.size().index, g["_text"].agg("\n".join),
                             g["_html"].agg("".join), strict=True):
            out.setdefault(str(uid), {})[lang] = (t, h)
    return out


@dataclass(frozen=True)
class _Mail:
    lang: str
    as_of: date
    prev_date: date | None
    base: str

    def tr(self, key: str, **kw: Any) -> str:
        return i18n.t(key, self.lang, **kw)

    def bodies(self, name: str, intro: str, n: Mapping[str, int | None],
               blocks: Mapping[str, tuple[str | None, str | None, int]],
               table: tuple[str, str] | None) -> tuple[str, str]:
        """(plain text, HTML body) of one mail."""
        e = html.escape
        text = [self.tr("digest.greeting", name=name), "", intro]
        body = [f"<p>{e(self.tr('digest.greeting', name=name))}</p>", f"<p>{e(intro)}</p>"]
        if table is not None:
            heads = [self.tr(f"digest.col.{c}") for c in
                     ("manager", "new", "escalated", "overdue", "tier_drop")]
            text += ["", f"== {self.tr('digest.members')} ==", table[0]]
            body += [f"<h3>{e(self.tr('digest.members'))}</h3>",
                     '<table border="1" cellspacing="0" cellpadding="4"><tr>'
                     + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>" + table[1]
                     + "</table>"]
        more_url = f"{self.base}/my_work"
        for s in SECTIONS:
            if s == "tier_drop" and self.prev_date is None:
                text += ["", self.tr("digest.no_snapshot")]
                body += [f"<p><em>{e(self.tr('digest.no_snapshot'))}</em></p>"]
                continue
            kw: dict[str, Any] = {"n": n[s]}
            if s == "tier_drop":
                kw["prev"] = self.prev_date.isoformat()  # type: ignore[union-attr]
            title = self.tr(f"digest.section.{s}", **kw)
            lines, items, shown = blocks[s]
            text += ["", f"== {title} ==", lines or self.tr("digest.none")]
            body += [f"<h3>{e(title)}</h3>",
                     f"<ul>{items}</ul>" if items else f"<p>{e(self.tr('digest.none'))}</p>"]
            rest = int(n[s] or 0) - shown
            if rest > 0:
                # the Portfolio is the app's first page: its address is the root
                url = more_url if s != "tier_drop" else f"{self.base}/"
                text.append(self.tr("digest.more", n=rest, url=url))
                pre, post = self.tr("digest.more", n=rest, url="\0").split("\0")
                body.append(f'<p>{e(pre)}<a href="{e(url)}">{e(url)}</a>{e(post)}</p>')
        text += ["", self.tr("digest.open_app", url=self.base),
                 self.tr("digest.footer", date=self.as_of.isoformat())]
        pre, post = self.tr("digest.open_app", url="\0").split("\0")
        body += [f'<p>{e(pre)}<a href="{e(self.base)}">{e(self.base)}</a>{e(post)}</p>',
                 f'<p style="color:#666">{e(self.tr("digest.footer", date=self.as_of.isoformat()))}'
                 "</p>"]
        return "\n".join(text) + "\n", "\n".join(body)


def _page(subject: str, body: str, lang: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang.startswith("zh") else "en"}">'
            f'<head><meta charset="utf-8"><title>{html.escape(_clean(subject))}</title></head>\n'
            f'<body style="font-family:sans-serif">\n{body}\n</body></html>\n')


def _people(users: pd.DataFrame) -> dict[str, pd.Series]:
    """Display name per user id, per language (English falls back to the Chinese name)."""
    ids = users["user_id"].astype(str).to_numpy()
    en = users["name_en"].where(users["name_en"].notna() & users["name_en"].ne(""),
                                users["name"])
    return {"zh": pd.Series(users["name"].to_numpy(), index=ids),
            "en": pd.Series(en.to_numpy(), index=ids)}


def _team_name(teams: pd.DataFrame, team_id: Any, lang: str) -> str:
    if team_id not in teams.index:
        return str(team_id)
    r = teams.loc[team_id]
    name = r["name"] if lang.startswith("zh") or pd.isna(r["name_en"]) else r["name_en"]
    return _clean(str(name))


# ---------------------------------------------------------------------------------------------
# Column-wise text helpers
# ---------------------------------------------------------------------------------------------
def escape(s: pd.Series) -> pd.Series:
    """``html.escape`` (quote=True) over a whole column: & < > " ' replaced, & first."""
    return (s.astype(str).str.replace("&", "&amp;", regex=False)
            .str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)
            .str.replace('"', "&quot;", regex=False).str.replace("'", "&#x27;", regex=False))


def _labels(codes: pd.Series, labels: Mapping[Any, str]) -> pd.Series:
    """The label of each code; unknown codes as they are."""
    mapped = codes.map(labels)
    return pd.Series(np.where(mapped.notna(), mapped, codes), index=codes.index).astype(str)


def _clean(text: str) -> str:
    """One line: control characters (line breaks, tabs) become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def _clean_col(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "").astype(str).str.replace(
        r"[\x00-\x1f\x7f]+", " ", regex=True).str.strip()


def _quote(ids: pd.Series) -> pd.Series:
    """Percent-encode ids for a query string (only the rare ids that need it, one by one)."""
    bad = ~ids.str.fullmatch(_SAFE_ID)
    if not bad.any():
        return ids
    out = ids.copy()
    out[bad] = [quote(v, safe="") for v in ids[bad]]
    return out


def _vformat(template: str, index: pd.Index, cols: Mapping[str, Any], *,
             html_: bool = False) -> pd.Series:
    """``template.format(**cols)`` for whole columns (a loop over the template's parts), the
    English plural markers ``{n|one|many}`` included (as :func:`valuation.i18n.t` reads them);
    with ``html_`` the template's text and the values are HTML-escaped."""
    out = pd.Series("", index=index, dtype=object)
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            out = out + (html.escape(literal) if html_ else literal)
        if name is not None and "|" in name:  # an English plural marker {n|one|many}
            var, one, many = name.split("|", 2)
            v = cols[var]
            v = v.astype(str) if isinstance(v, pd.Series) else pd.Series(str(v), index=index)
            word = pd.Series(np.where(v.str.strip().isin(["1", "-1"]), one, many), index=index)
            out = out + (escape(word) if html_ else word)
        elif name is not None:
            v = cols[name]
            v = v.astype(str) if isinstance(v, pd.Series) else pd.Series(str(v), index=index)
            out = out + (escape(v) if html_ else v)
    return out


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------
def smtp_config(settings: Settings, env: Mapping[str, str] | None = None) -> SmtpConfig:
    """SMTP settings: the file's ``digest.smtp_*``, ``VALUATION_SMTP_HOST`` / ``_PORT`` from
    the environment over them, the password only from ``VALUATION_SMTP_PASSWORD``."""
    env = os.environ if env is None else env
    host = env.get("VALUATION_SMTP_HOST") or str(settings.get("digest.smtp_host"))
    port_text = env.get("VALUATION_SMTP_PORT")
    if port_text:
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"VALUATION_SMTP_PORT: a port number, not {port_text!r}") from None
        if not 1 <= port <= 65535:
            raise ValueError(f"VALUATION_SMTP_PORT: 1 to 65535, not {port}")
    else:
        port = int(settings.get("digest.smtp_port"))
    user = str(settings.get("digest.smtp_user"))
    password = env.get("VALUATION_SMTP_PASSWORD") or None
    if user and password is None:
        raise ValueError(f"digest.smtp_user is {user!r} but VALUATION_SMTP_PASSWORD is not set")
    return SmtpConfig(host=host, port=port, sender=str(settings.get("digest.smtp_from")),
                      starttls=bool(settings.get("digest.smtp_starttls")), user=user,
                      password=password)


def message(d: Digest, sender: str) -> EmailMessage:
    """The e-mail of a digest: plain text with an HTML alternative (ValueError for an address
    that cannot be written)."""
    if not d.email:
        raise ValueError("no e-mail address")
    try:
        to = Address(display_name=d.name, addr_spec=d.email)
    except (ValueError, IndexError, email_errors.HeaderParseError) as exc:
        raise ValueError(f"invalid e-mail address {d.email!r}: {exc}") from None
    msg = EmailMessage()
    msg["Subject"] = d.subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid("digest", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = "zh-CN" if d.lang.startswith("zh") else "en"
    msg.set_content(d.text)
    msg.add_alternative(d.html, subtype="html")
    return msg


def week_of(day: date) -> str:
    """The ISO week of a day, e.g. 2026-W45."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _today() -> date:
    """The wall clock's day: only for the idempotency key's week, never for a figure."""
    return date.today()


def _key(data_version: str, week: str) -> str:
    return json.dumps({"data_version": data_version, "week": week})


def sent_before(store: Store, key: str) -> dict[str, str]:
    """user_id -> when (audit time) a digest under this key (data version, week) was sent."""
    tbl = store.app.tables["audit_log"]
    done = store.app.select("audit_log", (tbl.c.action == ACTION) & (tbl.c.row_key == key))
    out: dict[str, str] = {}
    for at, after in zip(done["at"], done["after"], strict=True):  # one per earlier run
        for uid in json.loads(after or "{}").get("sent", []):
            out.setdefault(str(uid), str(at))
    return out


def run(
    store: Store,
    *,
    dry_run: bool = False,
    to: str | None = None,
    lang: str | None = None,
    force: bool = False,
    today: date | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build the digests and send them (or, ``dry_run``, only say what would be sent).

    Returns {"as_of", "week", "key", "dry_run", "outcomes"}: one outcome per recipient
    {user_id, name, email, status, detail, subject, counts, digest} with status ``sent``,
    ``would send`` (dry run), ``skipped`` (no or invalid address, no live accounts, already
    sent for this data version and week) or ``failed`` (the SMTP server refused or could not
    be reached). ``today`` (default: the clock) picks the ISO week of the idempotency key.
    """
    digests, not_eligible, ctx = build_digests(store, lang=lang, to=to)
    week = week_of(today or _today())
    key = _key(ctx["data_version"], week)
    done = {} if force else sent_before(store, key)
    outcomes: list[dict[str, Any]] = [
        {"user_id": x["user_id"], "name": x["name"], "email": None, "status": "skipped",
         "detail": x["reason"], "subject": None, "counts": None, "digest": None}
        for x in not_eligible]
    pending: list[tuple[dict[str, Any], EmailMessage | None]] = []
    cfg = None
    for d in digests:  # one per recipient
        o = {"user_id": d.user_id, "name": d.name, "email": d.email, "status": "",
             "detail": "", "subject": d.subject, "counts": d.counts, "digest": d}
        outcomes.append(o)
        if not d.email:
            o.update(status="skipped", detail="no e-mail address")
            continue
        if not _EMAIL.match(d.email):
            o.update(status="skipped", detail=f"invalid e-mail address {d.email!r}")
            continue
        if d.user_id in done:
            o.update(status="skipped", detail=f"already sent for data version "
                     f"{ctx['data_version']}, week {week} (at {done[d.user_id]}); --force "
                     "sends again")
            continue
        if dry_run:
            o.update(status="would send")
            continue
        cfg = cfg or smtp_config(ctx["settings"], env)
        try:
            pending.append((o, message(d, cfg.sender)))
        except ValueError as exc:
            o.update(status="skipped", detail=str(exc))
    if pending and cfg is not None:
        _send(cfg, pending)
        sent = [o["user_id"] for o, _ in pending if o["status"] == "sent"]
        if sent:
            result = {"as_of": str(ctx["as_of"]), "week": week, "sent": sent,
                      "failed": {o["user_id"]: o["detail"] for o, _ in pending
                                 if o["status"] == "failed"},
                      "skipped": {o["user_id"]: o["detail"] for o in outcomes
                                  if o["status"] == "skipped"}}
            with store.transaction() as tx:
                store.app.audit(tx, user="jobs", action=ACTION, table_name="jobs", row_key=key,
                                before=None, after=json.dumps(result, ensure_ascii=False))
    return {"as_of": ctx["as_of"], "week": week, "key": key, "dry_run": dry_run,
            "previous_snapshot": ctx["previous_snapshot"], "outcomes": outcomes}


def _send(cfg: SmtpConfig, pending: Sequence[tuple[dict[str, Any], EmailMessage | None]]
          ) -> None:
    """Send over one connection; each outcome becomes sent or failed (with why)."""
    where = f"{cfg.host}:{cfg.port}"

    def fail_rest(why: str) -> None:
        for o, _ in pending:
            if not o["status"]:
                o.update(status="failed", detail=why)

    try:
        client = smtplib.SMTP(cfg.host, cfg.port, timeout=_TIMEOUT)
    except (OSError, smtplib.SMTPException) as exc:
        fail_rest(f"cannot reach the SMTP server {where}: {exc}")
        return
    try:
        with client:
            if cfg.starttls:
                client.starttls(context=ssl.create_default_context())
            if cfg.user:
                client.login(cfg.user, cfg.password or "")
            for o, msg in pending:
                try:
                    refused = client.send_message(msg)  # type: ignore[arg-type]
                except smtplib.SMTPServerDisconnected as exc:
                    fail_rest(f"the SMTP server {where} closed the connection: {exc}")
                    return
                except (smtplib.SMTPException, OSError) as exc:
                    o.update(status="failed", detail=f"refused by {where}: {exc}")
                    continue
                if refused:
                    o.update(status="failed", detail=f"refused by {where}: {refused}")
                else:
                    o.update(status="sent", detail=f"via {where}")
    except (smtplib.SMTPException, OSError) as exc:
        fail_rest(f"SMTP server {where}: {exc}")
