"""What a page failure and a demo database look like to users: a short message with a reference
(the traceback goes to the server log), the admin's reminder to replace demo passwords, and the
admission of page runs to the server's cores."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from valuation import i18n

__all__ = ["PageError", "admitted", "concurrent_runs", "demo_passwords_notice", "run_page"]

_LOG = logging.getLogger("valuation.app")


def concurrent_runs() -> int:
    """How many page runs compute at once: ``VALUATION_CONCURRENT_RUNS``, else one more than
    the machine's cores."""
    raw = os.environ.get("VALUATION_CONCURRENT_RUNS", "")
    return max(1, int(raw)) if raw.strip().isdigit() else (os.cpu_count() or 1) + 1


_RUNS = threading.BoundedSemaphore(concurrent_runs())


@contextmanager
def admitted(gate: threading.BoundedSemaphore | None = None) -> Iterator[None]:
    """Run the block once one of the server's page-run slots is free. Every session's script
    runs in a thread of one process: ten at once on two cores finish no sooner than a few at a
    time, but each holds its column-sized temporaries meanwhile, so the server's memory would
    grow with the number of people clicking. Waiting sessions show Streamlit's running
    indicator. Released however the block ends (a rerun or stop is a BaseException)."""
    gate = gate or _RUNS
    gate.acquire()
    try:
        yield
    finally:
        gate.release()


class PageError(RuntimeError):
    """Shown instead of a page's exception: its reference, never its details."""


def run_page(page: Any, lang: str) -> None:
    """``page.run()``; an exception is logged with its traceback under a short reference and
    the page shows only that reference (an exception element, so tests and the browser checks
    still see that the page failed)."""
    try:
        with admitted():
            page.run()
    except Exception as e:  # noqa: BLE001 - Streamlit's rerun/stop are BaseException, not caught
        ref = secrets.token_hex(4)
        _LOG.log(logging.ERROR, "page %s failed (reference %s)", getattr(page, "url_path", "?"),
                 ref, exc_info=e)
        st.exception(PageError(i18n.t("app.error", lang, ref=ref)))


def demo_passwords_notice(store: Any, lang: str) -> None:
    """For the admin: a warning while demo sign-ins with published passwords remain."""
    from valuation.demo import demo_sign_ins_left

    try:
        left = demo_sign_ins_left(store)
    except Exception:  # noqa: BLE001 - a reminder must never break the page
        _LOG.exception("could not list the demo sign-ins")
        return
    if left:
        st.warning(i18n.t("app.demo_passwords", lang, users=", ".join(left)),
                   icon=":material/key:")
