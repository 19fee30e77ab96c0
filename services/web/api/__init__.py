"""Routes of the web app, one module per area of pages."""

from services.web.api import (
    account,
    agency,
    clusters,
    desk,
    directory,
    events,
    partners,
    partnerships,
    trainings,
)

routers = (
    account.router,
    directory.router,
    clusters.router,
    events.router,
    desk.router,
    agency.router,
    partners.router,
    partnerships.router,
    trainings.router,
)

__all__ = ["routers"]
