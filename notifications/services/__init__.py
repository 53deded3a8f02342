"""Writes of notifications: webhooks, and the deliveries of the outbox."""
