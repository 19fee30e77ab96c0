"""Our HTTP clients drop an idle connection to our services before uvicorn closes it.

At the same 5 s on both sides, a request now and then took a connection the server
was closing and got no answer: a browser test saw "The platform is unavailable" on
about one fresh-clone run in two (tests/web/test_profile_pages.py).
"""

from __future__ import annotations

import uvicorn

from shared.keepalive import KEEPALIVE_EXPIRY


def test_clients_let_go_of_idle_connections_well_before_uvicorn() -> None:
    server_timeout = uvicorn.Config("services.web.main:create_app").timeout_keep_alive
    assert server_timeout / 2 >= KEEPALIVE_EXPIRY
