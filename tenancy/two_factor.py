"""Two-factor authentication with TOTP authenticator apps (django-otp).

A user enrols one authenticator; from then on every login asks for its code. An
organization can require it of its owners and admins: without a verified login they are
sent to enrol (portal, admin) or refused (API sessions). API keys are not affected.
"""

from __future__ import annotations

import base64

import segno
from django_otp import devices_for_user
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy.roles import ADMIN_ROLES

DEVICE_NAME = "Authenticator app"


def confirmed_device(user) -> TOTPDevice | None:
    return next(iter(devices_for_user(user, confirmed=True)), None)


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being enrolled, created on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> str:
    """The provisioning URI as an inline SVG QR code (nothing fetched from elsewhere)."""
    # django-otp's config_url is the otpauth:// URI, with OTP_TOTP_ISSUER as the issuer.
    return segno.make(device.config_url, error="m").svg_inline(
        omitsize=True, border=2, title="Scan with your authenticator app"
    )


def secret_for_manual_entry(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def is_required(organization, role: str | None) -> bool:
    return bool(organization.require_two_factor) and role in ADMIN_ROLES


def is_satisfied(user) -> bool:
    """A session user whose login was confirmed with a code (API keys never need it)."""
    verified = getattr(user, "is_verified", None)
    return bool(verified and verified())
