from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from rest_framework.serializers import ModelSerializer

        from core import secrets
        from core.text import LineField, LineSerializerField

        # A BEACON_ENCRYPTION_KEYS entry that is no key fails at start-up.
        checks.register(secrets.check_keys)

        # Every API serializer built from a model gives a LineField the field that strips
        # bidirectional controls before its checks (DRF's documented mapping).
        ModelSerializer.serializer_field_mapping[LineField] = LineSerializerField
