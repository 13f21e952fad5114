"""The analysed portfolio, built once per data version and settings version by whoever changed
them (an import, a settings save, a scheduled job), stored beside the database and loaded by
the app in seconds instead of recomputed by its first reader.

Layout: ``<db>.analysis/<data_version>-s<settings_id>/`` holding ``frame.parquet`` (the
analysed frame, read memory-mapped) and ``model.joblib`` (the scorecard, the tier cuts and the
frame's attributes). A build is written to a temporary folder and renamed into place, so a
reader sees a whole build or none; the last few builds are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from valuation import features
from valuation.analysis import Analysis, analyse
from valuation.config import Settings
from valuation.settings_store import active_settings, active_settings_id
from valuation.store import Store

__all__ = ["Built", "build", "builds", "current_key", "folder", "is_built", "load", "newest"]

KEEP = 3


@dataclass(frozen=True)
class Built:
    """A stored build: its data and settings versions, when it was built and how long it took."""

    data_version: str
    settings_id: int
    built_at: str
    seconds: float
    accounts: int
    path: Path
    source: str = "facts"


def folder(store: Store) -> Path:
    return store.path.with_suffix(".analysis")


def _name(data_version: str, settings_id: int) -> str:
    return f"{data_version or 'empty'}-s{int(settings_id)}"


def current_key(store: Store) -> tuple[str, int]:
    """(data version, settings version) the store is at now."""
    return store.data_version, active_settings_id(store)


def is_built(store: Store, data_version: str, settings_id: int) -> bool:
    return (folder(store) / _name(data_version, settings_id) / "build.json").exists()


def build(store: Store, settings: Settings | None = None, *, force: bool = False,
          frame: pd.DataFrame | None = None, source: str = "facts") -> Built:
    """Analyse the portfolio at the store's current data and settings version and store it
    (nothing to do when that build exists, unless ``force`` or a ``frame`` is given).

    ``frame``: an account frame computed elsewhere (``valuation rollup`` on Spark) to analyse
    instead of the store's own; ``source`` says where it came from. Returns the build."""
    dv, sid = current_key(store)
    target = folder(store) / _name(dv, sid)
    if (target / "build.json").exists() and not force and frame is None:
        return _built(target)
    t0 = time.perf_counter()
    settings = settings if settings is not None else active_settings(store)
    a = analyse(frame if frame is not None else features.account_frame(store), settings)
    tmp = folder(store) / f".building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        frame = a.frame
        try:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                           tmp / "frame.parquet")
            kind = "parquet"
        except (pa.ArrowException, TypeError, ValueError):  # a column Arrow cannot hold
            joblib.dump(frame, tmp / "frame.joblib")
            kind = "joblib"
        joblib.dump({"card": a.card, "cutter": a.cutter, "attrs": dict(frame.attrs)},
                    tmp / "model.joblib")
        meta = {"data_version": dv, "settings_id": int(sid), "frame": kind, "source": source,
                "object_columns": [c for c in frame.columns if frame[c].dtype == object],
                "built_at": pd.Timestamp.now(tz="UTC").isoformat(),
                "seconds": round(time.perf_counter() - t0, 2), "accounts": len(frame)}
        (tmp / "build.json").write_text(json.dumps(meta), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(folder(store))
    return _built(target)


def load(store: Store, data_version: str, settings_id: int, settings: Settings
         ) -> Analysis | None:
    """The stored analysis of those versions, None when it has not been built."""
    target = folder(store) / _name(data_version, settings_id)
    if not (target / "build.json").exists():
        return None
    meta = json.loads((target / "build.json").read_text(encoding="utf-8"))
    if meta.get("frame") == "joblib":
        frame = joblib.load(target / "frame.joblib")
    else:
        frame = pq.read_table(target / "frame.parquet", memory_map=True).to_pandas(
            types_mapper=_strings)
        for c in meta.get("object_columns", []):  # text kept as Python objects stays so
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    model = joblib.load(target / "model.joblib")
    frame.attrs = dict(model["attrs"])
    return Analysis(frame=frame, card=model["card"], cutter=model["cutter"], settings=settings)


def _strings(t: pa.DataType) -> object:
    """Arrow text as pandas' Arrow-backed strings, as the frame had it."""
    return pd.StringDtype("pyarrow") if t in (pa.string(), pa.large_string()) else None


def builds(store: Store) -> list[Built]:
    """Stored builds, newest first."""
    root = folder(store)
    if not root.exists():
        return []
    out = [_built(p) for p in root.iterdir() if (p / "build.json").exists()]
    return sorted(out, key=lambda b: b.built_at, reverse=True)


def newest(store: Store) -> Built | None:
    b = builds(store)
    return b[0] if b else None


def _built(p: Path) -> Built:
    m = json.loads((p / "build.json").read_text(encoding="utf-8"))
    return Built(data_version=m["data_version"], settings_id=int(m["settings_id"]),
                 built_at=m["built_at"], seconds=float(m["seconds"]),
                 accounts=int(m["accounts"]), path=p, source=str(m.get("source", "facts")))


def _prune(root: Path) -> None:
    done = sorted((p for p in root.iterdir() if (p / "build.json").exists()),
                  key=lambda p: json.loads((p / "build.json").read_text())["built_at"],
                  reverse=True)
    for p in done[KEEP:]:
        shutil.rmtree(p, ignore_errors=True)
