"""What the incident services tell other apps inside the transaction of a change.

Apps above ``incidents`` keep rows of their own in step with an incident (they connect
in their ``AppConfig.ready``); ``incidents`` does not know who listens. A receiver runs
in the same transaction as the change, after the incident is saved and before its
timeline entry, so an exception it raises (a ``DomainError``) refuses the change and
nothing of it is kept. Work that leaves the system belongs after the commit, not here.
"""

from django.dispatch import Signal

# sender=Incident, incident=<the saved incident>, previous=<the status it had>
status_changed = Signal()
