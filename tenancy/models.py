"""Organizations (tenants), their members, teams and API keys.

Every tenant-owned row carries ``organization`` directly, child rows included, so every
query is one filter away from isolation.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, In
from django.utils import timezone
from django.utils.timezone import now
from timezone_field import TimeZoneField

from core.text import LineField


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    RESPONDER = "responder", "Responder"
    REPORTER = "reporter", "Reporter"
    STAKEHOLDER = "stakeholder", "Stakeholder"


class OrganizationQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Organization(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = LineField(max_length=200)
    timezone = TimeZoneField(default="UTC", use_pytz=False)
    is_active = models.BooleanField(default=True)
    require_two_factor = models.BooleanField(
        default=False,
        help_text="Owners and admins must confirm their login with an authenticator code.",
    )
    created_at = models.DateTimeField(default=now, editable=False)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ScopeError(Exception):
    """A query on tenant-owned rows that names no organization."""


class TenantQuerySet(models.QuerySet):
    """Refuses to touch the database unless the query is scoped to organizations.

    A query is scoped when its WHERE clause requires ``organization`` (on the model's own
    table) to equal a value or lie in a list, when it comes from a related manager of an
    object that is itself inside one organization (``team.memberships``), or when it was
    opened with :meth:`unscoped`, the named escape hatch for deliberate cross-tenant code.
    Forgetting the filter raises :class:`ScopeError` instead of leaking another tenant's rows.
    """

    _unscoped = False

    def for_org(self, org: Organization | int):
        return self.filter(organization=org)

    def for_orgs(self, orgs):
        return self.filter(organization__in=orgs)

    def unscoped(self):
        """Cross-tenant on purpose: authentication, a user's own memberships, superusers."""
        clone = self._chain()
        clone._unscoped = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._unscoped = self._unscoped
        return clone

    def _is_scoped(self) -> bool:
        if self._unscoped or self.query.is_empty():
            return True
        parent = self._hints.get("instance")
        if isinstance(parent, Organization | TenantModel):
            return True
        query = self.query
        if query.where.connector != "AND" or query.where.negated:
            return False
        field = self.model._meta.get_field("organization")
        return any(
            isinstance(child, Exact | In)
            and getattr(child.lhs, "target", None) is field
            and child.lhs.alias == query.base_table
            for child in query.where.children
        )

    def _require_scope(self):
        if not self._is_scoped():
            raise ScopeError(
                f"Unscoped query on {self.model.__name__}: filter it with for_org(), or use "
                "unscoped() where crossing organizations is intended."
            )

    def _fetch_all(self):
        if self._result_cache is None:
            self._require_scope()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._require_scope()
        return super().iterator(*args, **kwargs)

    def aggregate(self, *args, **kwargs):
        self._require_scope()
        return super().aggregate(*args, **kwargs)

    def count(self):
        if self._result_cache is None:
            self._require_scope()
        return super().count()

    def exists(self):
        if self._result_cache is None:
            self._require_scope()
        return super().exists()

    def update(self, **kwargs):
        self._require_scope()
        return super().update(**kwargs)

    def delete(self):
        self._require_scope()
        return super().delete()

    def in_bulk(self, *args, **kwargs):
        self._require_scope()
        return super().in_bulk(*args, **kwargs)

    def explain(self, *args, **kwargs):
        self._require_scope()
        return super().explain(*args, **kwargs)


class TenantModel(models.Model):
    """Base of every tenant-owned model: the organization is on the row itself."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(TenantModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REPORTER)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_org_user")
        ]
        permissions = [("manage_owners", "Can make, change and remove owners")]
        indexes = [models.Index(fields=["user", "organization"], name="membership_user_org")]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"


class Team(TenantModel):
    slug = models.SlugField(max_length=50)
    name = LineField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams", blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="team_slug")]

    def __str__(self):
        return self.name


class TeamMembership(TenantModel):
    class TeamRole(models.TextChoices):
        LEAD = "lead", "Lead"
        MEMBER = "member", "Member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=10, choices=TeamRole.choices, default=TeamRole.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "team", "user"], name="team_membership_unique"
            )
        ]

    def __str__(self):
        return f"{self.user} in {self.team}"

    def save(self, *args, **kwargs):
        # The team decides the organization; a team membership can never point elsewhere.
        self.organization_id = self.team.organization_id
        super().save(*args, **kwargs)

    def clean(self):
        if self.team_id:
            self.organization_id = self.team.organization_id
        if (
            self.user_id
            and self.organization_id
            and not Membership.objects.filter(
                organization_id=self.organization_id, user_id=self.user_id
            ).exists()
        ):
            raise ValidationError({"user": "Only members of the organization can join its teams."})


class ApiKeyQuerySet(TenantQuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(TenantModel):
    """A key for external systems. Only a SHA-256 digest is stored; the key is shown once."""

    name = LineField(max_length=100)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)
    prefix = models.CharField(max_length=16, editable=False, help_text="Shown to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "created_at"], name="apikey_org_created")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class InvitationQuerySet(TenantQuerySet):
    def open(self):
        """Neither accepted nor revoked: resending renews an expired one."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)

    def pending(self):
        """Open and not expired: the link in the last e-mail still works."""
        return self.open().filter(expires_at__gt=timezone.now())

    def with_status(self, status: str):
        """Those whose :attr:`Invitation.status` is ``status``; all for an empty one."""
        match status:
            case Invitation.Status.PENDING:
                return self.pending()
            case Invitation.Status.EXPIRED:
                return self.open().filter(expires_at__lte=timezone.now())
            case Invitation.Status.ACCEPTED:
                return self.filter(accepted_at__isnull=False)
            case Invitation.Status.REVOKED:
                return self.filter(revoked_at__isnull=False)
        return self


class Invitation(TenantModel):
    """A person asked by e-mail to join an organization with a role.

    Whoever holds the link chooses their own username and password, or accepts with the
    account they are logged in with: nobody who invites ever sets or learns credentials.
    The link carries a random secret of which only the SHA-256 digest is stored
    (``token_hash``); it works until ``expires_at``, once, and not after a revocation or a
    resend (which issues a new secret). Accepting creates the membership.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        EXPIRED = "expired", "Expired"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REPORTER)
    username = models.CharField(
        max_length=150,
        blank=True,
        help_text="A suggested username for a new account; the invitee may choose another.",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    send_count = models.PositiveIntegerField(default=0, editable=False)
    expires_at = models.DateTimeField(editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        # Ordered by its own columns only: the token lookup, made before the organization
        # is known, must touch this table alone (row-level security hides the others).
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_email",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="invitation_org_created")
        ]

    def __str__(self):
        return f"{self.email} ({self.get_role_display()})"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    def get_status_display(self) -> str:
        return self.Status(self.status).label

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


class AuditQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        raise TypeError("The audit log is append-only.")

    def delete(self):
        raise TypeError("The audit log is append-only.")


class AuditEvent(TenantModel):
    """An append-only record of a security-relevant action in one organization."""

    # No database constraint and no cascade: deleting a user must not rewrite the log.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200, help_text="Who, as it was at the time.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["organization", "-id"], name="audit_org_recent"),
            models.Index(fields=["organization", "action", "-id"], name="audit_org_action"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")
