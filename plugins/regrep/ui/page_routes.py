"""``/regrep/ui/``: the Replication page, a small dependency-free web page inside Airflow's UI.

The page is plain HTML, CSS and JavaScript modules (``static/``), served as they are: no
build step, nothing generated. Airflow shows it in its own layout (the plugin's external
view, an iframe under Airflow's navigation, :mod:`regrep.plugin`); it reads and changes
everything through ``/regrep/api`` with the browser's Airflow session, and follows Airflow's
colours and light or dark mode (``static/theme.js``).

The HTML and its assets hold no data and are served to anyone, like Airflow's own UI
assets; the API behind them checks who asks. The content security policy lets the page run
only its own scripts and be framed only by this server's pages (Airflow's UI).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ROUTE = "/ui"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'self'; "
        "form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["page"])


@router.get(ROUTE, include_in_schema=False)
def page_without_slash() -> RedirectResponse:
    """The page's modules are addressed relative to ``/regrep/ui/``."""
    return RedirectResponse("ui/")


@router.get(f"{ROUTE}/", include_in_schema=False)
def page() -> FileResponse:
    """The page itself; it loads its data from ``/regrep/api``."""
    return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


def static_files() -> StaticFiles:
    """The page's scripts, styles and icons, mounted at ``/regrep/ui/static``."""
    return StaticFiles(directory=STATIC)
