"""Contacts logged in the app: calls, visits, e-mails and meetings, written by the person who
made them, beside the interactions the imports bring."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pandas as pd

from valuation.access import User, can_edit_accounts, scope_sql
from valuation.store import Store

__all__ = ["KINDS", "MAX_NOTE", "OUTCOMES", "contacts_for", "interaction_history", "log_contact"]

# What a logged contact was, and what came of it (empty: not said).
KINDS = ("call", "visit", "email", "meeting")
OUTCOMES = ("reached", "not_reached", "follow_up", "at_risk", "resolved")
MAX_NOTE = 2000  # characters of a note: a call's summary, not a document


def log_contact(
    store: Store,
    account_id: str,
    *,
    user: User,
    kind: str,
    day: date,
    note: str | None = None,
    outcome: str | None = None,
    today: date | None = None,
) -> str:
    """Log a contact with an account; return its id.

    The contact carries its own date ``day``: when it happened, by the calendar, not the
    data's as-of date (which may lag behind by weeks). It cannot be after ``today`` (default:
    the wall clock's date): a contact is logged once it took place. Written as a new,
    versioned row of ``contact_log`` (audited, ``expected_version=0``) in the app database,
    so it survives restarts, imports and re-imports. Refused (ValueError) for a user who may
    not write (an executive), an account outside the user's scope or unknown, an unknown
    kind or outcome, a date after ``today``, a note longer than :data:`MAX_NOTE`.

    It shows in :func:`interaction_history`; the scores' interaction counts
    (``visits_12m``, complaints) stay those of the imported interactions.
    """
    account_id = str(account_id)
    if not can_edit_accounts(user):
        raise ValueError(f"{user.user_id} ({user.role}) may not log contacts")
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} not one of {', '.join(KINDS)}")
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} not one of {', '.join(OUTCOMES)}")
    when = pd.Timestamp(day).date()
    limit = today or date.today()
    if when > limit:
        raise ValueError(f"a contact on {when} is in the future (today is {limit})")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE:
        raise ValueError(f"a note of at most {MAX_NOTE} characters, not {len(text)}")
    pred, params = scope_sql(user, alias="a")
    if not store.scalar(f"SELECT count(*) FROM accounts a WHERE a.account_id = ? AND ({pred})",
                        [account_id, *params]):
        raise ValueError(f"account {account_id!r} is not in the scope of {user.user_id}")
    contact_id = f"CT-{uuid.uuid4().hex[:16]}"
    store.write_row("contact_log", {
        "contact_id": contact_id, "account_id": account_id, "date": when, "kind": kind,
        "user_id": user.user_id, "note": text, "outcome": outcome,
    }, user=user.user_id, expected_version=0, action="log contact")
    return contact_id


def contacts_for(store: Store, account_id: str) -> pd.DataFrame:
    """The contacts logged in the app for one account, newest first."""
    tbl = store.app.tables["contact_log"]
    df = store.app.select("contact_log", tbl.c.account_id == str(account_id))
    return df.sort_values(["date", "updated_at"], ascending=False, ignore_index=True,
                          kind="stable")


def interaction_history(store: Store, account_id: str) -> pd.DataFrame:
    """One account's interactions, imported and logged in the app, newest first: date, kind,
    user_id, note, outcome, source (``import`` or ``app``), contact_id (logged ones)."""
    params: list[Any] = [str(account_id), str(account_id)]
    return store.query(
        """SELECT date, kind, user_id, note, NULL AS outcome, 'import' AS source,
                  NULL AS contact_id, NULL AS logged_at
           FROM interactions WHERE account_id = ?
           UNION ALL
           SELECT date, kind, user_id, note, outcome, 'app' AS source, contact_id,
                  updated_at AS logged_at
           FROM contact_log WHERE account_id = ?
           ORDER BY date DESC, logged_at DESC NULLS LAST""", params)
