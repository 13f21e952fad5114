"""Saved settings versions: the active settings, save with validation, history, restore."""

from __future__ import annotations

import tomllib
from typing import Any

import pandas as pd

from valuation.config import Settings, dump_settings, load_settings, parse_settings
from valuation.store import Store

__all__ = ["active_settings", "active_settings_id", "restore", "save_settings", "settings_history",
           "with_values"]


def active_settings(store: Store) -> Settings:
    """The active saved settings, else the defaults of data/models/default.toml."""
    text = store.scalar(
        "SELECT toml FROM settings_versions WHERE active ORDER BY settings_id DESC LIMIT 1")
    return parse_settings(text) if text else load_settings()


def active_settings_id(store: Store) -> int:
    """The id of the active saved settings; 0 for the defaults."""
    v = store.scalar("SELECT max(settings_id) FROM settings_versions WHERE active")
    return int(v) if v is not None else 0


def save_settings(store: Store, text: str, *, user: str, comment: str = "") -> int:
    """Validate ``text`` (SettingsError if invalid), save it as a new active version; its id."""
    parse_settings(text)
    new_id = int(store.scalar("SELECT coalesce(max(settings_id), 0) + 1 FROM settings_versions"))
    previous = active_settings_id(store)
    if previous:
        store.write_row("settings_versions", {"settings_id": previous, "active": False},
                        user=user, action="deactivate")
    store.write_row(
        "settings_versions",
        {"settings_id": new_id, "toml": text, "comment": comment, "active": True},
        user=user, action="save_settings",
    )
    return new_id


def restore(store: Store, settings_id: int, *, user: str) -> int:
    """Make an earlier version active again, as a new version (history is never rewritten)."""
    text = store.scalar("SELECT toml FROM settings_versions WHERE settings_id = ?", [settings_id])
    if text is None:
        raise ValueError(f"no saved settings version {settings_id}")
    return save_settings(store, text, user=user, comment=f"restored version {settings_id}")


def settings_history(store: Store) -> pd.DataFrame:
    return store.query(
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
