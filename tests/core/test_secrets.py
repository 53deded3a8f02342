"""Secrets at rest: Fernet tokens under the configured keys, newest first, or under a key
derived from SECRET_KEY; the field that keeps plaintext in Python and tokens in the column."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from core import secrets
from core.secrets import EncryptedTextField, SecretError

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_round_trip(settings):
    settings.BEACON_ENCRYPTION_KEYS = [NEW]
    assert secrets.decrypt(secrets.encrypt("xoxb-bot-token ✓")) == "xoxb-bot-token ✓"


def test_a_token_hides_the_text_and_differs_every_time():
    first, second = secrets.encrypt("whsec_signing"), secrets.encrypt("whsec_signing")
    assert "whsec_signing" not in first
    assert first != second
    assert secrets.decrypt(first) == secrets.decrypt(second) == "whsec_signing"


def test_an_old_key_still_decrypts_and_rotate_moves_to_the_new_one(settings):
    settings.BEACON_ENCRYPTION_KEYS = [OLD]
    token = secrets.encrypt("api-credential")
    settings.BEACON_ENCRYPTION_KEYS = [NEW, OLD]
    assert secrets.decrypt(token) == "api-credential"
    rotated = secrets.rotate(token)

    settings.BEACON_ENCRYPTION_KEYS = [NEW]
    assert secrets.decrypt(rotated) == "api-credential"
    with pytest.raises(SecretError):
        secrets.decrypt(token)


def test_the_first_key_encrypts(settings):
    settings.BEACON_ENCRYPTION_KEYS = [NEW, OLD]
    token = secrets.encrypt("api-credential")
    assert Fernet(NEW).decrypt(token.encode()) == b"api-credential"


@pytest.mark.parametrize("token", ["gAAAAAnot-a-token", "plain text", ""])
def test_what_no_key_decrypts_is_a_secret_error(settings, token):
    settings.BEACON_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(SecretError):
        secrets.decrypt(token)
    with pytest.raises(SecretError):
        secrets.rotate(token)


def test_a_wrong_key_is_a_secret_error(settings):
    token = Fernet(OLD).encrypt(b"api-credential").decode()
    settings.BEACON_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(SecretError):
        secrets.decrypt(token)
    assert issubclass(SecretError, ValueError)


def test_the_derived_key_is_stable_for_one_secret_key_and_differs_for_another(settings):
    settings.BEACON_ENCRYPTION_KEYS = []
    assert secrets.derived_key("one secret key") == secrets.derived_key("one secret key")
    assert secrets.derived_key("one secret key") != secrets.derived_key("another")
    Fernet(secrets.derived_key("one secret key"))  # a valid key

    settings.SECRET_KEY = "one secret key"
    token = secrets.encrypt("api-credential")
    assert secrets.decrypt(token) == "api-credential"
    settings.SECRET_KEY = "another"
    with pytest.raises(SecretError):
        secrets.decrypt(token)


def test_values_of_the_derived_key_still_read_once_keys_are_configured(settings):
    settings.BEACON_ENCRYPTION_KEYS = []
    token = secrets.encrypt("api-credential")
    settings.BEACON_ENCRYPTION_KEYS = [NEW]
    assert secrets.decrypt(token) == "api-credential"
    assert Fernet(NEW).decrypt(secrets.rotate(token).encode()) == b"api-credential"


def test_a_key_that_is_not_one_is_a_configuration_error(settings):
    settings.BEACON_ENCRYPTION_KEYS = [NEW, "not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="key 2 is not a Fernet key"):
        secrets.encrypt("api-credential")
    [error] = secrets.check_keys()
    assert error.id == "core.E001"
    settings.BEACON_ENCRYPTION_KEYS = [NEW]
    assert secrets.check_keys() == []


@pytest.mark.parametrize(
    ("secret", "shown", "masked"),
    [
        ("whsec_0123456789abcd", 4, "••••abcd"),
        ("whsec_0123456789abcd", 6, "••••89abcd"),
        ("xoxb-123456", 4, "••••"),  # shorter than 12 characters
        ("xoxb-1234567", 4, "••••4567"),
        ("whsec_0123456789abcd", 0, "••••"),
        ("whsec_0123456789abcd", 20, "••••"),  # never the whole secret
        ("", 4, ""),
    ],
)
def test_mask(secret, shown, masked):
    assert secrets.mask(secret, shown) == masked


def test_the_field_stores_a_token_and_reads_the_text():
    field = EncryptedTextField()
    stored = field.get_prep_value("xoxb-bot-token")
    assert stored != "xoxb-bot-token"
    assert secrets.decrypt(stored) == "xoxb-bot-token"
    assert field.from_db_value(stored, None, None) == "xoxb-bot-token"


def test_the_field_encrypts_the_python_value_every_time_never_a_token_again():
    # Saving twice prepares the same plaintext twice: two tokens of the same text.
    field = EncryptedTextField()
    first, second = field.get_prep_value("secret"), field.get_prep_value("secret")
    assert first != second
    assert field.from_db_value(first, None, None) == field.from_db_value(second, None, None)
    # A token given as the Python value is text like any other: it is encrypted.
    assert field.from_db_value(field.get_prep_value(first), None, None) == first


@pytest.mark.parametrize("empty", [None, ""])
def test_the_field_stores_empty_and_null_as_they_are(empty):
    field = EncryptedTextField()
    assert field.get_prep_value(empty) == empty
    assert field.from_db_value(empty, None, None) == empty


def test_the_field_offers_no_lookup_but_isnull():
    field = EncryptedTextField()
    assert field.get_lookup("isnull") is not None
    for name in ["exact", "iexact", "in", "contains", "startswith", "gt"]:
        assert field.get_lookup(name) is None
    assert field.get_transform("lower") is None


def test_the_field_deconstructs_for_migrations():
    field = EncryptedTextField(blank=True, null=True)
    _, path, args, kwargs = field.deconstruct()
    assert path == "core.secrets.EncryptedTextField"
    assert kwargs == {"blank": True, "null": True}
    assert isinstance(EncryptedTextField(*args, **kwargs), EncryptedTextField)


@pytest.mark.django_db
def test_rotate_secrets_moves_every_organizations_secrets_to_the_new_key(settings, org, other_org):
    from notifications.models import Webhook
    from notifications.services import webhooks
    from tenancy import rls

    settings.BEACON_ENCRYPTION_KEYS = [OLD]
    made = {}
    for organization in (org, other_org):
        _, made[organization.pk] = webhooks.webhook_create(
            organization=organization,
            actor=None,
            name="Tickets",
            url="https://tickets.example/hooks",
            events=["incident.created"],
        )
    assert secrets.encrypted_fields() == {Webhook: ["secret", "previous_secret"]}
    settings.BEACON_ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Re-encrypted 2 values."  # empty ones stay empty

    settings.BEACON_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    for organization in (org, other_org):
        with rls.tenant_context(organization.pk):
            webhook = Webhook.objects.for_org(organization).get()
        assert webhook.secret == made[organization.pk]
