from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenancy import services
from tenancy.models import Organization, Role


class Command(BaseCommand):
    help = "Create an API key for an organization. The key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("org", help="Organization slug.")
        parser.add_argument("--name", required=True, help="What the key is for.")
        parser.add_argument("--role", choices=Role.values, default=Role.RESPONDER)
        parser.add_argument("--expires-in-days", type=int, help="Expire after N days.")

    def handle(self, *args, org, name, role, expires_in_days, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization {org!r}.")
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be positive.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        api_key, raw = services.api_key_create(
            organization=organization, actor=None, name=name, role=role, expires_at=expires_at
        )
        self.stderr.write(
            f"Created {role} key {api_key.prefix}… for {organization.slug}. "
            "It is shown once; store it now."
        )
        self.stdout.write(raw)
