"""Escalations in the admin."""
