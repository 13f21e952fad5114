"""The analysed portfolio, built once per data version and settings version by whoever changed
them (an import, a settings save, a scheduled job), stored beside the database and loaded by
the app in seconds instead of recomputed by its first reader.

Layout: ``<db>.analysis/<data_version>-s<settings_id>/`` holding ``frame.parquet`` (the
analysed frame, read memory-mapped), the scorecard's frames (``card_*.parquet``) and
``model.joblib`` (the tier cuts, the scorecard's unavailable measures and the frame's
attributes). Beside them, what the pages derive from the analysis and would otherwise compute
on their first visit (tens of seconds each at a million accounts): the churn frame's extra
columns, the survival curves, every live account's churn risk (``risk.parquet``, for the churn
model file it was scored with) and the product bundle (graph, metrics, suggestions). A build
is written to a temporary folder and renamed into place, so a reader sees a whole build or
none; the last few builds are kept. A derived part that fails to build is recorded, not fatal:
the pages then compute it themselves and show why it failed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from valuation import features
from valuation.analysis import Analysis, analyse
from valuation.config import Settings
from valuation.scoring import Scorecard
from valuation.settings_store import active_settings, active_settings_id
from valuation.store import Store

__all__ = ["Built", "build", "builds", "current_key", "folder", "is_built", "load", "newest",
           "dispatched", "mark_dispatched", "part", "refresh_risk"]

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
        meta: dict[str, Any] = {"data_version": dv, "settings_id": int(sid), "source": source,
                                "object_columns": {}}
        meta["frame"] = _write_frame(a.frame, tmp, "frame", meta, index=True)
        scores = a.card.scores
        shared = [c for c in scores.columns if c != "account_id" and c in a.frame.columns
                  and a.frame[c].equals(scores[c])]
        if len(shared) == len(scores.columns) - 1:  # the frame holds the scores: read them
            meta["card_scores"] = list(scores.columns)  # from it, not a second copy
        else:
            _write_frame(scores, tmp, "card_scores", meta, index=True)
        for name in _CARD_FRAMES[1:]:
            _write_frame(getattr(a.card, name), tmp, f"card_{name}", meta, index=True)
        joblib.dump({"cutter": a.cutter, "attrs": dict(a.frame.attrs),
                     "unavailable": dict(a.card.unavailable)}, tmp / "model.joblib")
        meta["accounts"] = len(a.frame)
        meta["derived"] = _derive(store, a, tmp, meta)
        meta["built_at"] = pd.Timestamp.now(tz="UTC").isoformat()
        meta["seconds"] = round(time.perf_counter() - t0, 2)
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
    meta = _meta(target)
    frame = _read_frame(target, "frame", meta)
    model = joblib.load(target / "model.joblib")
    frame.attrs = dict(model["attrs"])
    if "card" in model:  # a build of the previous layout: the scorecard pickled whole
        card = model["card"]
    else:
        parts = {n: _read_frame(target, f"card_{n}", meta) for n in _CARD_FRAMES[1:]}
        if "card_scores" in meta:  # the scores are the frame's columns (shared, not copied)
            scores = frame[meta["card_scores"]]
            scores = scores.assign(account_id=frame["account_id"].to_numpy())
        else:
            scores = _read_frame(target, "card_scores", meta)
        card = Scorecard(scores=scores, **parts, unavailable=dict(model["unavailable"]))
    return Analysis(frame=frame, card=card, cutter=model["cutter"], settings=settings)


_CARD_FRAMES = ("scores", "normalised", "contributions", "raw")


def _meta(target: Path) -> dict[str, Any]:
    return dict(json.loads((target / "build.json").read_text(encoding="utf-8")))


def _write_frame(df: pd.DataFrame, folder_: Path, name: str, meta: dict[str, Any], *,
                 index: bool = False) -> str:
    """Write ``df`` as ``<name>.parquet`` (``<name>.joblib`` when Arrow cannot hold a column);
    the format written. ``index``: keep the index (a scorecard's is the frame's)."""
    cols = meta.setdefault("object_columns", {})
    if isinstance(cols, list):
        cols = meta["object_columns"] = {"frame": cols}
    cols[name] = [str(c) for c in df.columns if df[c].dtype == object]
    try:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=None if index else False),
                       folder_ / f"{name}.parquet")
        return "parquet"
    except (pa.ArrowException, TypeError, ValueError):  # a column Arrow cannot hold
        joblib.dump(df, folder_ / f"{name}.joblib")
        meta.setdefault("joblib", []).append(name)
        return "joblib"


def _read_frame(folder_: Path, name: str, meta: dict[str, Any]) -> pd.DataFrame:
    if (folder_ / f"{name}.joblib").exists() and not (folder_ / f"{name}.parquet").exists():
        return joblib.load(folder_ / f"{name}.joblib")
    cols = meta.get("object_columns", {})
    cols = cols if isinstance(cols, dict) else {"frame": cols}
    return _read_parquet(folder_ / f"{name}.parquet", cols.get(name, []))


def _read_parquet(path: Path, object_columns: list[str]) -> pd.DataFrame:
    """A Parquet file as the frame written: Arrow-backed strings, and the columns that were
    Python objects back as objects."""
    frame = pq.read_table(path, memory_map=True).to_pandas(
        types_mapper=_strings, split_blocks=True, self_destruct=True)  # no second copy
    for c in object_columns:
        frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    return frame


# ---------------------------------------------------------------------------------------------
# What the pages derive from the analysis, built with it
# ---------------------------------------------------------------------------------------------
def _model_stamp(store: Store) -> int:
    from valuation.churn import model_path

    f = model_path(store.path)
    return f.stat().st_mtime_ns if f.exists() else 0


def _derive(store: Store, a: Analysis, out: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Build the derived parts into ``out``; per part, its seconds or the error it raised."""
    from valuation import bundling, churn

    done: dict[str, Any] = {}

    def step(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001 - recorded: the pages compute it and say why
            done[name] = {"error": f"{type(e).__name__}: {e}"}
            return None
        done[name] = {"seconds": round(time.perf_counter() - t0, 2)}
        return r

    settings = a.settings

    def extras() -> pd.DataFrame:
        cf = churn.churn_frame(store, frame=a.frame)
        ext = pd.DataFrame({"account_id": cf["account_id"].to_numpy(),
                            **{c: cf[c].array for c in churn.frame._EXTRA_COLUMNS}})
        meta["churn_attrs"] = {k: v if v is None or isinstance(v, (str, int, float)) else str(v)
                              for k, v in cf.attrs.items()}
        _write_frame(ext, out, "churn_extra", meta)
        return cf

    cf = step("churn_frame", extras)

    def survival() -> dict[str, Any]:
        sf = churn.survival_frame(store, settings=settings)
        fits = churn.fit_survival(sf, by="bundle")
        joblib.dump({"fits": fits, "curves": {b: churn.survival_curves(sf, by=b)
                                              for b in ("bundle", "tier")}},
                    out / "survival.joblib")
        return fits

    fits = step("survival", survival)
    if cf is not None and fits is not None:
        step("risk", lambda: _write_risk(store, settings, cf, fits, out))

    def bundle() -> None:
        products = store.read_table("products")
        contracts = store.read_table("contracts")
        h = bundling.load_holdings(store)
        params = bundling.BundlingParams.from_settings(settings)
        g = bundling.build_graph(h, products, accounts=a.frame, params=params)
        blend, choice = bundling.blend_in_use(h, products, a.frame, settings=settings)
        joblib.dump({
            "holdings": h, "graph": g, "blend": blend, "choice": choice,
            "metrics": bundling.bundle_metrics(h, g, products, contracts=contracts,
                                               as_of=None, params=params),
            "recommendations": bundling.recommend(h, g, products, a.frame, k=5,
                                                  settings=settings, params=params,
                                                  blend=blend)}, out / "bundle.joblib")

    step("bundle", bundle)
    return done


def _write_risk(store: Store, settings: Settings, cf: pd.DataFrame, fits: Any,
                out: Path) -> None:
    """Every live account's churn risk with the churn model saved now, and that model's stamp
    (``risk.json``: the pages use the stored risk only while the model file is that one)."""
    from valuation import churn

    stamp = _model_stamp(store)
    model = churn.load_model(churn.model_path(store.path)) if stamp else None
    risk = churn.portfolio_risk(store, settings=settings, model=model, frame=cf, survival=fits)
    tmp = out / f".risk-{uuid.uuid4().hex[:8]}.parquet"
    pq.write_table(pa.Table.from_pandas(risk, preserve_index=True), tmp)
    os.replace(tmp, out / "risk.parquet")
    (out / "risk.json").write_text(json.dumps({
        "model_stamp": stamp, "attrs": risk.attrs,
        "object_columns": [str(c) for c in risk.columns if risk[c].dtype == object]}),
        encoding="utf-8")


def part(store: Store, data_version: str, settings_id: int, name: str) -> Any:
    """A derived part of a stored build, None when it is not there (not built, or it failed):
    ``churn_extra`` (a frame: account_id + the churn frame's extra columns, attrs set),
    ``survival`` ({"fits", "curves"}), ``risk`` ((frame, model stamp)), ``bundle`` (dict)."""
    target = folder(store) / _name(data_version, settings_id)
    try:
        if name == "churn_extra":
            if not (target / "churn_extra.parquet").exists():
                return None
            meta = _meta(target)
            ext = _read_frame(target, "churn_extra", meta)
            ext.attrs = dict(meta.get("churn_attrs", {}))
            return ext
        if name == "risk":
            if not (target / "risk.json").exists():
                return None
            info = json.loads((target / "risk.json").read_text(encoding="utf-8"))
            risk = _read_parquet(target / "risk.parquet", info.get("object_columns", []))
            risk.index = pd.Index(risk.index.astype(object), name=risk.index.name)
            risk.attrs = dict(info["attrs"])
            return risk, int(info["model_stamp"])
        f = target / f"{name}.joblib"
        return joblib.load(f) if f.exists() else None
    except FileNotFoundError:  # pruned meanwhile: the caller computes it
        return None


def refresh_risk(store: Store) -> bool:
    """After the churn model was (re)trained: re-score the current build's risk with it, so
    the pages need not. False when there is no current build or its churn parts failed."""
    from valuation.settings_store import settings_by_id

    dv, sid = current_key(store)
    target = folder(store) / _name(dv, sid)
    ext = part(store, dv, sid, "churn_extra")
    surv = part(store, dv, sid, "survival")
    if ext is None or surv is None:
        return False
    a = load(store, dv, sid, settings_by_id(store, sid))
    if a is None:
        return False
    cf = churn_frame_from(a.frame, ext)
    _write_risk(store, a.settings, cf, surv["fits"], target)
    return True


def mark_dispatched(store: Store, data_version: str, settings_id: int,
                    counts: dict[str, int]) -> None:
    """Record that the warnings of this build's as-of date were synced into work orders (the
    sync is idempotent: nobody needs to repeat it for these versions)."""
    target = folder(store) / _name(data_version, settings_id)
    if not (target / "build.json").exists():
        return
    tmp = target / f".dispatched-{uuid.uuid4().hex[:8]}.json"
    tmp.write_text(json.dumps({"counts": {k: int(v) for k, v in counts.items()},
                               "at": pd.Timestamp.now(tz="UTC").isoformat()}), encoding="utf-8")
    os.replace(tmp, target / "dispatched.json")


def dispatched(store: Store, data_version: str, settings_id: int) -> dict[str, int] | None:
    """The counts of the sync recorded by :func:`mark_dispatched`, None when none was."""
    f = folder(store) / _name(data_version, settings_id) / "dispatched.json"
    try:
        return dict(json.loads(f.read_text(encoding="utf-8"))["counts"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def churn_frame_from(frame: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """The churn frame of an analysed frame from its stored extra columns (``part``): the
    frame's columns are shared, not copied."""
    from valuation.churn.frame import _EXTRA_COLUMNS

    if len(extra) != len(frame) or not (
            frame["account_id"].astype(str).to_numpy()
            == extra["account_id"].astype(str).to_numpy()).all():
        raise ValueError("the stored churn columns do not match the analysed frame")
    out = frame.drop(columns=[c for c in _EXTRA_COLUMNS if c in frame.columns])
    for c in _EXTRA_COLUMNS:
        out[c] = extra[c].array
    attrs = dict(frame.attrs)
    attrs.update(extra.attrs)
    out.attrs = attrs
    return out


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
