from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from rest_framework.serializers import ModelSerializer

        from core.text import LineField, LineSerializerField

        # Every API serializer built from a model gives a LineField the field that strips
        # bidirectional controls before its checks (DRF's documented mapping).
        ModelSerializer.serializer_field_mapping[LineField] = LineSerializerField
