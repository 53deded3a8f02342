"""Schedules in the API."""

urlpatterns: list = []
