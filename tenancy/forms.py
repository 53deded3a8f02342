from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django_otp import match_token

from tenancy import two_factor


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
