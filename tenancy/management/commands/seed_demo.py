"""A demo installation: two organizations, a user for every role, teams, an API key and a
pending invitation.

Runs once: when the demo organization exists it only prints the logins again. Other apps
add their demo data by defining ``seed_demo(self, *, organization, users, stdout)`` on
their AppConfig; it is called for each demo organization after the people and teams exist.
"""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from tenancy import services
from tenancy.models import Organization, Role, TeamMembership

User = get_user_model()

PASSWORD = "beacon-demo-2026"
SUPERUSER = ("root", "Platform", "Operator")

ORGANIZATIONS = [
    {
        "slug": "acme",
        "name": "Acme Corporation",
        "timezone": "Europe/Berlin",
        "people": [
            ("alice", "Alice", "Owens", Role.OWNER),
            ("bob", "Bob", "Adams", Role.ADMIN),
            ("carol", "Carol", "Reyes", Role.RESPONDER),
            ("dave", "Dave", "Kim", Role.RESPONDER),
            ("erin", "Erin", "Fischer", Role.REPORTER),
            ("frank", "Frank", "Moreau", Role.STAKEHOLDER),
        ],
        # Invited by the owner, not yet accepted: the e-mail (console backend) has the link.
        "invitations": [("ivy@example.com", "ivy", Role.RESPONDER, "alice")],
        "teams": [
            ("platform", "Platform SRE", "Kubernetes, databases and the edge.", ["carol", "dave"]),
            ("network", "Network Operations", "WAN, VPN and office networks.", ["dave"]),
            ("service-desk", "Service Desk", "First line for employees.", ["bob", "carol"]),
            ("security", "Security Operations", "Detection and response.", []),
        ],
    },
    {
        "slug": "globex",
        "name": "Globex Logistics",
        "timezone": "America/Chicago",
        "require_two_factor": True,
        "people": [
            ("gina", "Gina", "Lopez", Role.OWNER),
            ("carol", "Carol", "Reyes", Role.RESPONDER),
            ("hank", "Hank", "Wu", Role.REPORTER),
        ],
        "teams": [("operations", "Operations", "Warehouses and fleet systems.", ["carol"])],
    },
]


class Command(BaseCommand):
    help = (
        "Seed demo organizations, users for every role, teams, an API key and a pending "
        "invitation (once)."
    )

    def handle(self, *args, **options):
        if Organization.objects.filter(slug=ORGANIZATIONS[0]["slug"]).exists():
            self.stdout.write("Demo data exists already.")
        else:
            with transaction.atomic():
                self._seed()
        self._print_logins()

    def _user(self, username, first_name, last_name):
        user = User.objects.filter(username=username).first()
        if user is None:
            user = services.user_create(
                username=username,
                email=f"{username}@example.com",
                password=PASSWORD,
                first_name=first_name,
                last_name=last_name,
            )
        return user

    def _seed(self):
        username, first, last = SUPERUSER
        root = self._user(username, first, last)
        root.is_staff = root.is_superuser = True
        root.save(update_fields=["is_staff", "is_superuser"])
        for spec in ORGANIZATIONS:
            organization = services.organization_create(
                slug=spec["slug"], name=spec["name"], timezone_name=spec["timezone"]
            )
            if spec.get("require_two_factor"):
                organization.require_two_factor = True
                organization.save(update_fields=["require_two_factor"])
            users = {}
            for username, first, last, role in spec["people"]:
                users[username] = self._user(username, first, last)
                services.membership_create(
                    organization=organization, actor=None, user=users[username], role=role
                )
            for email, username, role, inviter in spec.get("invitations", []):
                services.invitation_create(
                    organization=organization,
                    actor=users[inviter],
                    email=email,
                    role=role,
                    username=username,
                )
            for slug, name, description, members in spec["teams"]:
                team = services.team_create(
                    organization=organization,
                    actor=None,
                    slug=slug,
                    name=name,
                    description=description,
                )
                for index, username in enumerate(members):
                    services.team_member_add(
                        organization=organization,
                        actor=None,
                        team=team,
                        user=users[username],
                        role=TeamMembership.TeamRole.LEAD
                        if index == 0
                        else TeamMembership.TeamRole.MEMBER,
                    )
            _, raw = services.api_key_create(
                organization=organization, actor=None, name="Demo monitoring", role=Role.RESPONDER
            )
            self.stdout.write(f"API key for {organization.slug} (shown once): {raw}")
            for config in apps.get_app_configs():
                seeder = getattr(config, "seed_demo", None)
                if seeder is not None:
                    seeder(organization=organization, users=users, stdout=self.stdout)

    def _print_logins(self):
        self.stdout.write(f"Demo logins (password for all: {PASSWORD}):")
        self.stdout.write(f"  {SUPERUSER[0]:<6} platform superuser (admin for every organization)")
        for spec in ORGANIZATIONS:
            for username, _first, _last, role in spec["people"]:
                self.stdout.write(f"  {username:<6} {role.label.lower()} of {spec['slug']}")
        self.stdout.write(
            "  (globex requires two-factor authentication of its owners and admins: gina is "
            "asked to set up an authenticator app)"
        )
        for spec in ORGANIZATIONS:
            for email, _username, role, _inviter in spec.get("invitations", []):
                self.stdout.write(
                    f"Pending invitation: {email} to {spec['slug']} as {role.label.lower()} "
                    "(see its members page; the e-mail with the link went to the mail backend)"
                )
