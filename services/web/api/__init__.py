"""Routes of the web app, one module per area of pages."""

from services.web.api import (
    account,
    agency,
    benchmarking,
    clusters,
    desk,
    directory,
    events,
    labels,
    observatory,
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
    observatory.router,
    labels.router,
    benchmarking.router,
    partnerships.router,
    trainings.router,
)

__all__ = ["routers"]
