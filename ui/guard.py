"""What a page failure and a demo database look like to users: a short message with a reference
(the traceback goes to the server log), and the admin's reminder to replace demo passwords."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import streamlit as st

from valuation import i18n

__all__ = ["PageError", "demo_passwords_notice", "run_page"]

_LOG = logging.getLogger("valuation.app")


class PageError(RuntimeError):
    """Shown instead of a page's exception: its reference, never its details."""


def run_page(page: Any, lang: str) -> None:
    """``page.run()``; an exception is logged with its traceback under a short reference and
    the page shows only that reference (an exception element, so tests and the browser checks
    still see that the page failed)."""
    try:
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
