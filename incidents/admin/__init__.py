"""The incident record in the Django admin, one module per part; importing this package
registers them all."""

from incidents.admin import catalog, closure, incident, saved_views, sla

__all__ = ["catalog", "closure", "incident", "saved_views", "sla"]
