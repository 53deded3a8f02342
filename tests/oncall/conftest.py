"""Fixtures for the on-call tests.

- ``make_schedule(layers=[…], overrides=[…], organization=org, **fields)`` -> a saved
  schedule, read back with :func:`oncall.rotations.with_rotations`. Each layer is a dict of
  Layer fields plus ``users`` (the rotation, in order); each override is ``(user, start,
  end)``.
- ``load_schedule(schedule)`` -> the schedule read again the same way (after a change).
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from oncall.models import Layer, Override, Participant, Schedule
from oncall.rotations import with_rotations
from tenancy import rls

_counter = itertools.count(1)


@pytest.fixture
def load_schedule():
    def load(schedule):
        with rls.tenant_context(schedule.organization_id):
            queryset = Schedule.objects.for_org(schedule.organization_id).filter(pk=schedule.pk)
            return with_rotations(queryset).get()

    return load


@pytest.fixture
def make_schedule(org, load_schedule):
    def make(layers=(), overrides=(), organization=None, **fields):
        organization = organization or org
        fields.setdefault("name", f"Schedule {next(_counter)}")
        with rls.tenant_context(organization.pk):
            schedule = Schedule.objects.create(organization=organization, **fields)
            for index, spec in enumerate(layers):
                spec = dict(spec)
                users = spec.pop("users")
                spec.setdefault("position", index)
                spec.setdefault("name", f"Layer {index + 1}")
                spec.setdefault("rotation_start", date(2026, 1, 5))
                layer = Layer.objects.create(organization=organization, schedule=schedule, **spec)
                Participant.objects.bulk_create(
                    Participant(organization=organization, layer=layer, user=user, position=i)
                    for i, user in enumerate(users)
                )
            for user, start, end in overrides:
                Override.objects.create(
                    organization=organization, schedule=schedule, user=user, start=start, end=end
                )
        return load_schedule(schedule)

    return make
