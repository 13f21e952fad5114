"""The generated wide CRM export (docs/examples/wide_crm) as a store: data the demo never saw."""

from __future__ import annotations

import importlib.util
import shutil
from functools import cache
from pathlib import Path
from types import ModuleType

from valuation.ingest import import_files
from valuation.store import Store

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@cache
def generator(name: str = "wide_crm") -> ModuleType:
    """``docs/examples/<name>/generate.py`` as a module."""
    path = EXAMPLES / name / "generate.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_export(folder: Path, *, rows: int = 3000, seed: int = 1) -> Path:
    """The export and its transform in ``folder``; returns the transform's path."""
    folder.mkdir(parents=True, exist_ok=True)
    generator().generate(rows, seed=seed).to_csv(folder / "crm_export.csv", index=False)
    return Path(shutil.copy(EXAMPLES / "wide_crm" / "transform.sql", folder / "transform.sql"))


def wide_store(folder: Path, *, rows: int = 3000, seed: int = 1) -> Path:
    """A database holding the export imported through its transform; returns its path."""
    sql = write_export(folder, rows=rows, seed=seed)
    db = folder / "wide.duckdb"
    with Store(db) as s:
        report = import_files(s, transform=sql, user="test")
        assert report.ok and report.committed, report.to_text()
    return db
