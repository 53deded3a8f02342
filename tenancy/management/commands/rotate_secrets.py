"""Re-encrypt every stored secret with the newest key of BEACON_ENCRYPTION_KEYS.

Run it after putting a new key first; once it is done the older keys can be removed. It
lives here rather than in core because the rows belong to every organization: each
model's transaction sees them all (row-level security) and bypasses the scoped managers.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from core import secrets
from tenancy import rls
from tenancy.models import Organization


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field's values with the newest encryption key."

    def handle(self, *args, **options):
        total = 0
        for model, names in secrets.encrypted_fields().items():
            with transaction.atomic():
                rls.set_tenant(Organization.objects.values_list("pk", flat=True))
                count = secrets.reencrypt(model, names)
            self.stdout.write(f"{model._meta.label} ({', '.join(names)}): {count}")
            total += count
        self.stdout.write(f"Re-encrypted {total} values.")
