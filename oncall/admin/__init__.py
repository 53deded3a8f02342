"""On-call in the admin: schedules, escalation policies, escalations and pages."""

from oncall.admin import escalations, policies, schedules

__all__ = ["escalations", "policies", "schedules"]
