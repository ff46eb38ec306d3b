"""Settings of the web app (idle timeout, cookies, page sizes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["WebSettings"]


@dataclass(frozen=True)
class WebSettings:
    """How the web app runs.

    Attributes
    ----------
    idle_timeout : timedelta
        A browser session unused this long is refused (the accounts store ends it).
    secure_cookies : bool
        Mark cookies ``Secure`` even when the request arrived over plain HTTP (set it behind a
        TLS-terminating proxy that does not forward the scheme); HTTPS requests always get
        ``Secure`` cookies.
    page_size, max_page_size : int
        Default and largest page of an API list.
    clock : callable, optional
        The stores' clock (aware UTC ``datetime``): audit times and "today" of the visit
        schedule; default the system clock. Tests pass a fixed one.
    """

    idle_timeout: dt.timedelta = dt.timedelta(minutes=30)
    secure_cookies: bool = False
    page_size: int = 50
    max_page_size: int = 500
    clock: Callable[[], dt.datetime] | None = None
