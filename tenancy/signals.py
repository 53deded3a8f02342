"""Logins, failed logins and logouts enter the audit log of each of the user's organizations."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from tenancy import audit
from tenancy.selectors import memberships_of


def _record_for_each_organization(user, action, **kwargs):
    for membership in memberships_of(user=user):
        audit.record(organization=membership.organization, action=action, target=user, **kwargs)


@receiver(user_logged_in, dispatch_uid="tenancy.audit.login")
def login(sender, request, user, **kwargs):
    _record_for_each_organization(user, "auth.login", actor=user)


@receiver(user_logged_out, dispatch_uid="tenancy.audit.logout")
def logout(sender, request, user, **kwargs):
    if user is not None:
        _record_for_each_organization(user, "auth.logout", actor=user)


@receiver(user_login_failed, dispatch_uid="tenancy.audit.login_failed")
def login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        _record_for_each_organization(
            user, "auth.login_failed", actor=None, label=f"{username} (failed login)"
        )
