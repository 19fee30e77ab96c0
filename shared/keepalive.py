"""How long our HTTP clients keep an idle connection to one of our services.

uvicorn closes an idle keep-alive connection after 5 s (`timeout_keep_alive`). A client
that keeps it as long may pick a connection the server is closing at that moment, and
the request fails with no answer ("Server disconnected without sending a response",
"cannot write request body"). Well below the server's timeout, that never happens.
"""

from __future__ import annotations

KEEPALIVE_EXPIRY = 2.0
