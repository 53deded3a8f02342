"""Policies in the admin."""
