from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The shell around every page: layout, navigation, the organization picker and the
    home page, whose cards the apps contribute (the ``"home"`` slot of core.panels)."""

    name = "portal"
    verbose_name = "Portal"
