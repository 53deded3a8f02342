"""Policies in the API."""

urlpatterns: list = []
