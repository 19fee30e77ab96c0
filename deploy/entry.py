"""Entry point of the `clusterbridge` command (see deploy.cli for the commands).

`clusterbridge schedule` needs none of the services' web stack, whose imports (FastAPI,
SQLAlchemy, NATS) take about 2.5 s on a 2-core machine: a quarter of the scheduler's
ten seconds. That one command is dispatched before the rest is imported.
"""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "schedule":
        from services.events.cli import app
    else:
        from deploy.cli import app
    app()
