"""Portal pages for the organization shell: home, teams, members and invitations, and the
account pages (two-factor authentication, password reset, accepting an invitation)."""

import re

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from core import mail
from core.errors import DomainError
from tenancy import audit, selectors, services, two_factor
from tenancy.access import org_member_required
from tenancy.forms import InvitationForm, NewAccountForm, PasswordResetForm, TokenForm
from tenancy.models import Invitation, Role, Team


@org_member_required
def team_list(request):
    q = request.GET.get("q", "").strip()[:100]
    teams = selectors.team_list(organization=request.organization, q=q)
    return render(request, "portal/team_list.html", {"teams": teams, "q": q})


@org_member_required
def team_detail(request, team):
    team = get_object_or_404(Team.objects.for_org(request.organization), slug=team)
    members = selectors.team_members(organization=request.organization, team=team)
    return render(request, "portal/team_detail.html", {"team": team, "members": members})


@org_member_required
def member_list(request):
    """The members, with e-mail and role (responders and up); admins also invite here."""
    return _member_list(request)


def _member_list(request, *, invite_form=None, status=200):
    organization = request.organization
    if not request.user.has_perm("tenancy.view_membership", organization):
        raise PermissionDenied
    q = request.GET.get("q", "").strip()[:100]
    role = request.GET.get("role", "")
    if role not in Role.values:
        role = ""
    context = {
        "members": selectors.member_list(organization=organization, q=q, role=role),
        "q": q,
        "role": role,
        "roles": Role.choices,
    }
    if request.user.has_perm("tenancy.add_invitation", organization):
        context["invite_form"] = invite_form or _invitation_form(request)
        context["invitations"] = selectors.invitation_list(organization=organization).open()
        context["invitation_valid_days"] = services.invitation_valid_days()
        context["can_manage_invitations"] = request.user.has_perm(
            "tenancy.change_invitation", organization
        )
        context["can_revoke_invitations"] = request.user.has_perm(
            "tenancy.delete_invitation", organization
        )
    return render(request, "portal/member_list.html", context, status=status)


def _invitation_form(request, data=None):
    may_invite_owners = request.user.has_perm("tenancy.manage_owners", request.organization)
    return InvitationForm(data, may_invite_owners=may_invite_owners)


def _member_list_url(request):
    return reverse("portal:member-list", kwargs={"org": request.organization.slug})


@org_member_required
@require_POST
def invitation_create(request):
    if not request.user.has_perm("tenancy.add_invitation", request.organization):
        raise PermissionDenied
    form = _invitation_form(request, request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                organization=request.organization, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, f"Invited {invitation.email}: the e-mail is on its way.")
            return redirect(_member_list_url(request))
    return _member_list(request, invite_form=form, status=400)


def _invitation_or_404(request, invitation: int) -> Invitation:
    return get_object_or_404(
        selectors.invitation_list(organization=request.organization), pk=invitation
    )


def _invitation_act(request, invitation: int, *, permission: str, service, done: str):
    """Resend or revoke: the same lookup, permission check and answer around a service."""
    invitation = _invitation_or_404(request, invitation)
    if not request.user.has_perm(permission, invitation):
        raise PermissionDenied
    try:
        service(organization=request.organization, actor=request.user, invitation=invitation)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(email=invitation.email))
    return redirect(_member_list_url(request))


@org_member_required
@require_POST
def invitation_resend(request, invitation: int):
    return _invitation_act(
        request,
        invitation,
        permission="tenancy.change_invitation",
        service=services.invitation_resend,
        done="Sent a new link to {email}; the old one is void.",
    )


@org_member_required
@require_POST
def invitation_revoke(request, invitation: int):
    return _invitation_act(
        request,
        invitation,
        permission="tenancy.delete_invitation",
        service=services.invitation_revoke,
        done="Revoked the invitation to {email}.",
    )


@sensitive_variables("token")
@sensitive_post_parameters("password", "password_again")
@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    """The link from the e-mail, before or after logging in: the token is the authorization.

    Logged in, the person accepts with their account. Otherwise they choose a username and
    password for a new account, unless the address has an account already: then they log
    in first (or reset its password) and come back.
    """
    invitation = selectors.invitation_by_token(token)
    if invitation is None:
        return render(request, "portal/invitation.html", {"invalid": True}, status=404)
    organization = invitation.organization
    context = {"invitation": invitation, "organization": organization}
    user = request.user
    if user.is_authenticated:
        if request.method == "POST":
            try:
                services.invitation_accept(
                    organization=organization, invitation=invitation, user=user
                )
            except DomainError as exc:
                context["error"] = exc.message
                return render(request, "portal/invitation.html", context, status=409)
            messages.success(request, f"Welcome to {organization.name}.")
            return redirect("portal:home", org=organization.slug)
        return render(request, "portal/invitation.html", context)

    context["login_url"] = f"{reverse('login')}?next={request.path}"
    if services.invitation_address_has_account(invitation):
        context["has_account"] = True
        return render(request, "portal/invitation.html", context)
    form = NewAccountForm(request.POST or None, initial={"username": invitation.username})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.invitation_accept_new(
                organization=organization,
                invitation=invitation,
                username=data["username"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {organization.name}.")
            return redirect("portal:home", org=organization.slug)
    context["form"] = form
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/invitation.html", context, status=status)


AUDIT_PAGE_SIZE = 50


@org_member_required
def audit_log(request):
    """Owners read their organization's audit log, newest first."""
    if not request.user.has_perm("tenancy.view_auditevent", request.organization):
        raise PermissionDenied
    action = request.GET.get("action", "")[:64]
    q = request.GET.get("q", "").strip()[:100]
    before = request.GET.get("before", "")
    before_id = int(before) if re.fullmatch(r"[0-9]{1,18}", before) else None
    events = list(
        selectors.audit_events(
            organization=request.organization, action=action, q=q, before_id=before_id
        )[: AUDIT_PAGE_SIZE + 1]
    )
    older = events[AUDIT_PAGE_SIZE - 1].id if len(events) > AUDIT_PAGE_SIZE else None
    return render(
        request,
        "portal/audit_log.html",
        {
            "events": events[:AUDIT_PAGE_SIZE],
            "older": older,
            "action": action,
            "q": q,
            "actions": selectors.audit_actions(organization=request.organization),
        },
    )


def _record_everywhere(user, action):
    for membership in selectors.memberships_of(user=user):
        audit.record(organization=membership.organization, actor=user, action=action, target=user)


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@login_required
def account_two_factor(request):
    """Enrol an authenticator app, confirm this login with it, or remove it."""
    user = request.user
    device = two_factor.confirmed_device(user)
    form = TokenForm(request.POST or None)
    action = request.POST.get("action")
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        with transaction.atomic():
            if device is None and action == "enrol":
                pending = two_factor.pending_device(user)
                if pending.verify_token(token):
                    pending.confirmed = True
                    pending.save(update_fields=["confirmed"])
                    otp_login(request, pending)
                    _record_everywhere(user, "auth.two_factor_enabled")
                    messages.success(request, "Two-factor authentication is on.")
                    return redirect(_safe_next(request) or "portal:two-factor")
                form.add_error("token", "That code is not valid; try the current one.")
            elif device is not None and action == "verify":
                if device.verify_token(token):
                    otp_login(request, device)
                    return redirect(_safe_next(request) or "portal:index")
                form.add_error("token", "That code is not valid; try the current one.")
            elif device is not None and action == "disable":
                if device.verify_token(token):
                    device.delete()
                    _record_everywhere(user, "auth.two_factor_disabled")
                    messages.success(request, "Two-factor authentication is off.")
                    return redirect("portal:two-factor")
                form.add_error("token", "That code is not valid; try the current one.")
    context = {
        "device": device,
        "verified": two_factor.is_satisfied(user),
        "form": form,
        "next": _safe_next(request) or "",
    }
    if device is None:
        pending = two_factor.pending_device(user)
        context["qr_svg"] = two_factor.qr_svg(pending)
        context["secret"] = two_factor.secret_for_manual_entry(pending)
    return render(request, "portal/two_factor.html", context)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's: the same answer whether or not an account has the address."""

    form_class = PasswordResetForm
    subject_template_name = "registration/password_reset.subject.txt"
    email_template_name = "registration/password_reset.txt"
    html_email_template_name = "registration/password_reset.html"

    def form_valid(self, form):
        self.extra_email_context = {"base_url": mail.absolute_url("")}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's (the link works once, and not after a login or a password change); the
    new password enters the audit log of each of the person's organizations."""

    def form_valid(self, form):
        response = super().form_valid(form)
        _record_everywhere(form.user, "auth.password_reset")
        return response
