"""Saved settings versions: the active settings, save with validation, history, restore."""

from __future__ import annotations

import time
import tomllib
from typing import Any

import pandas as pd
import sqlalchemy as sa

from valuation.config import Settings, dump_settings, load_settings, parse_settings
from valuation.store import ConflictError, Store

__all__ = ["active_settings", "active_settings_id", "restore", "save_settings", "settings_by_id",
           "settings_history", "with_values"]


_RETRIES = 20


def active_settings(store: Store) -> Settings:
    """The active saved settings, else the defaults of valuation/models/default.toml."""
    text = store.app.scalar("SELECT toml FROM settings_versions WHERE active = :t "
                            "ORDER BY settings_id DESC LIMIT 1", {"t": True})
    return parse_settings(text) if text else load_settings()


def settings_by_id(store: Store, settings_id: int) -> Settings:
    """Saved settings version ``settings_id``; 0 is the defaults."""
    if not settings_id:
        return load_settings()
    text = store.app.scalar("SELECT toml FROM settings_versions WHERE settings_id = :i",
                            {"i": int(settings_id)})
    if text is None:
        raise ValueError(f"no saved settings version {settings_id}")
    return parse_settings(text)


def active_settings_id(store: Store) -> int:
    """The id of the active saved settings; 0 for the defaults."""
    v = store.app.scalar("SELECT max(settings_id) FROM settings_versions WHERE active = :t",
                         {"t": True})
    return int(v) if v is not None else 0


def save_settings(store: Store, text: str, *, user: str, comment: str = "") -> int:
    """Validate ``text`` (SettingsError if invalid), save it as a new active version; its id.

    One transaction: the previous version stops being active and the new one starts, or
    neither. Two people saving at once both land, one after the other (the one that lost the
    race for the next id retries)."""
    parse_settings(text)
    tbl = store.app.tables["settings_versions"]
    for attempt in range(_RETRIES):
        try:
            with store.transaction() as tx:
                new_id = int(tx.execute(sa.select(sa.func.coalesce(sa.func.max(tbl.c.settings_id),
                                                                   0) + 1)).scalar())
                previous = tx.execute(sa.select(tbl.c.settings_id).where(tbl.c.active.is_(True))
                                      ).scalars().all()
                for p in previous:
                    store.write_row("settings_versions", {"settings_id": int(p), "active": False},
                                    user=user, action="deactivate", tx=tx)
                store.write_row(
                    "settings_versions",
                    {"settings_id": new_id, "toml": text, "comment": comment, "active": True},
                    user=user, action="save_settings", tx=tx, expected_version=0)  # new only
            return new_id
        except ConflictError:
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def restore(store: Store, settings_id: int, *, user: str) -> int:
    """Make an earlier version active again, as a new version (history is never rewritten)."""
    text = store.app.scalar("SELECT toml FROM settings_versions WHERE settings_id = :i",
                            {"i": int(settings_id)})
    if text is None:
        raise ValueError(f"no saved settings version {settings_id}")
    return save_settings(store, text, user=user, comment=f"restored version {settings_id}")


def settings_history(store: Store) -> pd.DataFrame:
    return store.app.query(
        "SELECT settings_id, comment, active, updated_by, updated_at FROM settings_versions "
        "ORDER BY settings_id DESC")


def with_values(settings: Settings, values: dict[str, Any]) -> str:
    """The settings' TOML with scalar settings (dotted names, e.g. ``bundling.blend_name``)
    set to ``values``; validated."""
    doc = tomllib.loads(settings.source) if settings.source else {}
    for name, value in values.items():
        section, key = name.split(".", 1)
        doc.setdefault(section, {})[key] = value
    text = dump_settings(doc)
    parse_settings(text)
    return text
