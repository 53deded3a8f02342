from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from tenancy import services


class Command(BaseCommand):
    help = "Create an organization (a tenant)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL name, e.g. acme (used in /o/<slug>/).")
        parser.add_argument("--name", required=True, help="Display name.")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone, default UTC.")

    def handle(self, *args, slug, name, timezone, **options):
        try:
            organization = services.organization_create(
                slug=slug, name=name, timezone_name=timezone
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stdout.write(f"Created organization {organization.slug} ({organization.name}).")
