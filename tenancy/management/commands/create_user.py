import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.errors import DomainError
from tenancy import services
from tenancy.models import Organization, Role


class Command(BaseCommand):
    help = "Create a user, optionally as a member of an organization with a role."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--org", help="Organization slug to add the user to.")
        parser.add_argument("--role", choices=Role.values, default=Role.REPORTER)
        parser.add_argument(
            "--password", help="Asked for at the prompt when omitted (never stored in clear)."
        )
        parser.add_argument("--superuser", action="store_true", help="Platform superuser.")

    def handle(self, *args, username, email, org, role, password, superuser, **options):
        organization = None
        if org:
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"No organization {org!r}.")
        if password is None:
            password = self._prompt_password()
        extra = {"first_name": options["first_name"], "last_name": options["last_name"]}
        if superuser:
            extra.update(is_staff=True, is_superuser=True)
        try:
            with transaction.atomic():
                user = services.user_create(
                    username=username, email=email, password=password, **extra
                )
                if organization is not None:
                    services.membership_create(
                        organization=organization, actor=None, user=user, role=role
                    )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        where = f" as {role} of {organization.slug}" if organization else ""
        self.stdout.write(f"Created user {user.username}{where}.")

    def _prompt_password(self) -> str:
        if not self.stdin_is_interactive():
            raise CommandError("No --password given and no terminal to ask for one.")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        return first

    @staticmethod
    def stdin_is_interactive() -> bool:
        return sys.stdin.isatty()
