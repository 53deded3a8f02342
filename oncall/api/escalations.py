"""Escalations in the API."""

urlpatterns: list = []
