"""Routes of the web app, one module per area of pages."""

from services.web.api import account, clusters, directory

routers = (account.router, directory.router, clusters.router)

__all__ = ["routers"]
