from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from alerts import kinds, services
from alerts.models import Integration
from core.errors import DomainError
from incidents import services as incident_services
from incidents.models import Service
from tenancy import rls
from tenancy.models import Organization

SERVICE_SLUG_MAX = 50
NAME_MAX = 100


class Command(BaseCommand):
    help = (
        "Create an alert integration for a service (the service too, if it is missing). "
        "The integration's key is printed on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("org", help="Organization slug.")
        parser.add_argument("--service", required=True, help="Service slug.")
        parser.add_argument(
            "--kind", required=True, help=f"One of {', '.join(Integration.Kind.values)}."
        )
        parser.add_argument("--name", help="Defaults to the kind's name.")

    def handle(self, *args, org, service, kind, name, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization {org!r}.")
        if kind not in Integration.Kind.values:
            raise CommandError(
                f"Unknown kind {kind!r}: use one of {', '.join(Integration.Kind.values)}."
            )
        try:
            validate_slug(service)
        except ValidationError:
            raise CommandError(
                f"{service!r} is not a service slug (letters, digits, - and _)."
            ) from None
        if len(service) > SERVICE_SLUG_MAX:
            raise CommandError(f"A service slug has at most {SERVICE_SLUG_MAX} characters.")
        name = (name or Integration.Kind(kind).label).strip()
        if not name or len(name) > NAME_MAX or "\x00" in name:
            raise CommandError(f"--name must be 1 to {NAME_MAX} characters.")
        with rls.tenant_context(organization.pk):
            target = Service.objects.for_org(organization).filter(slug=service).first()
            if target is None:
                target = incident_services.service_create(
                    organization=organization,
                    actor=None,
                    slug=service,
                    name=service.replace("-", " ").replace("_", " ").capitalize(),
                )
                self.stdout.write(f"Created service {target.slug} ({target.name}).")
            try:
                integration = services.integration_create(
                    organization=organization,
                    actor=None,
                    service=target,
                    kind=kind,
                    name=name,
                )
            except DomainError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(
            f"Created {integration.get_kind_display()} integration {integration.name!r} "
            f"(id {integration.pk}) for {organization.slug}/{target.slug}."
        )
        self.stdout.write(f"Send events to: POST {kinds.ingestion_path(integration)}")
        if hint := kinds.of(integration).command_hint:
            self.stdout.write(hint)
        self.stdout.write(integration.key)
