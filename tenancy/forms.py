import unicodedata

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.contrib.auth.signals import user_login_failed
from django.template.loader import render_to_string
from django_otp import match_token

from core import mail
from core.errors import DomainError
from core.text import LineFormField
from tenancy import two_factor
from tenancy.models import Role


class LoginForm(AuthenticationForm):
    """Username and password, plus the authenticator code once the user has enrolled one.

    The right password without the code, or with a wrong one, answers exactly like a wrong
    password: the same error, counted the same way for the lockout and the audit log, so
    the form never confirms a password to someone who lacks the second factor.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter a correct %(username)s and password, and the code from your "
            "authenticator app if you set one up. Note that the fields may be case-sensitive."
        ),
    }

    otp_token = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=12,
        strip=True,
        help_text="The 6-digit code from your authenticator app, if you set one up.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        cleaned = super().clean()
        user = self.user_cache
        if user is None or two_factor.confirmed_device(user) is None:
            return cleaned
        token = (cleaned.get("otp_token") or "").replace(" ", "")
        device = match_token(user, token) if token else None
        if device is None:
            self.user_cache = None
            user_login_failed.send(
                sender=type(self),
                credentials={"username": user.get_username()},
                request=self.request,
            )
            raise self.get_invalid_login_error()
        user.otp_device = device  # django-otp marks the session verified on login
        return cleaned


class TokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\s*\d{6,8}\s*$",
        label="Code from your authenticator app",
        error_messages={"invalid": "Enter the 6-digit code."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_token(self):
        return self.cleaned_data["token"].strip()


class DomainErrorsMixin:
    """Shows a service's DomainError on the field it names (or above the form)."""

    field_aliases: dict[str, str] = {}

    def add_domain_error(self, exc: DomainError) -> None:
        field = self.field_aliases.get(exc.field, exc.field)
        self.add_error(field if field in self.fields else None, exc.message)


class InvitationForm(DomainErrorsMixin, forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REPORTER)
    username = forms.CharField(
        label="Suggested username",
        max_length=150,
        required=False,
        help_text="Optional: the invitee may choose another.",
    )

    def __init__(self, *args, may_invite_owners: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_invite_owners:
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]


class NewAccountForm(DomainErrorsMixin, forms.Form):
    """The invitee's own credentials; the service validates the username and password."""

    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    first_name = LineFormField(max_length=150, required=False)
    last_name = LineFormField(max_length=150, required=False)
    password = forms.CharField(
        strip=False,
        help_text="At least 12 characters, not a common or all-numeric one.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return cleaned


def _same_address(a: str, b: str) -> bool:
    return (
        unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()
    )


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's, for every active account with the address, including one that never had a
    password (made from the shell without one): a reset is how such an account starts."""

    def get_users(self, email):
        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        return (user for user in users if _same_address(email, user.email))

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        """Rendered here as Django renders it, sent by a worker: the answer comes as fast
        for a known address as for an unknown one."""
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        html = ""
        if html_email_template_name is not None:
            html = render_to_string(html_email_template_name, context)
        text = render_to_string(email_template_name, context)
        mail.send(subject=subject, text=text, html=html, to=[to_email])
