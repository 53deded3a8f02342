"""Layer 1 of isolation: tenant querysets refuse to run without an organization scope."""

import pytest
from django.apps import apps
from django.db.models import Count, Q

from tenancy import services
from tenancy.models import (
    Organization,
    Role,
    ScopeError,
    Team,
    TeamMembership,
    TenantModel,
    TenantQuerySet,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(org, member):
    team = services.team_create(organization=org, actor=None, slug="t", name="T")
    services.team_member_add(organization=org, actor=None, team=team, user=member(Role.RESPONDER))
    return team


@pytest.mark.parametrize(
    "evaluate",
    [
        list,
        len,
        bool,
        lambda qs: qs.count(),
        lambda qs: qs.exists(),
        lambda qs: qs.first(),
        lambda qs: qs.get(slug="t"),
        lambda qs: list(qs.iterator()),
        lambda qs: qs.aggregate(n=Count("id")),
        lambda qs: qs.update(name="x"),
        lambda qs: qs.delete(),
        lambda qs: qs.in_bulk(),
        lambda qs: list(qs.values_list("slug", flat=True)),
    ],
)
def test_unscoped_queries_raise_before_touching_the_database(
    team, evaluate, django_assert_num_queries
):
    with django_assert_num_queries(0), pytest.raises(ScopeError):
        evaluate(Team.objects.filter(slug="t"))
    assert Team.objects.for_org(team.organization).get(slug="t").name == "T"


@pytest.mark.parametrize(
    "scoped",
    [
        lambda org: Team.objects.for_org(org),
        lambda org: Team.objects.filter(organization=org),
        lambda org: Team.objects.filter(organization_id=org.pk),
        lambda org: Team.objects.for_orgs([org.pk]),
        lambda org: Team.objects.for_org(org).filter(Q(slug="t") | Q(name="T")),
        lambda org: Team.objects.filter(slug="t").for_org(org).order_by("name")[:5],
    ],
)
def test_organization_filters_on_the_own_table_count_as_scope(team, org, scoped):
    assert [t.slug for t in scoped(org)] == ["t"]


@pytest.mark.parametrize(
    "not_scoped",
    [
        lambda org: Team.objects.filter(Q(organization=org) | Q(slug="t")),
        lambda org: Team.objects.exclude(organization=org),
        lambda org: TeamMembership.objects.filter(team__organization=org),
        lambda org: Team.objects.filter(organization__slug=org.slug),
    ],
)
def test_filters_that_do_not_pin_the_organization_do_not_count(team, org, not_scoped):
    with pytest.raises(ScopeError):
        list(not_scoped(org))


def test_related_managers_of_tenant_objects_inherit_their_scope(team):
    assert team.memberships.count() == 1
    assert Team.objects.for_org(team.organization).prefetch_related("memberships").get().pk


def test_related_managers_of_users_are_not_scoped(team):
    user = team.members.get()
    with pytest.raises(ScopeError):
        list(user.team_memberships.all())
    with pytest.raises(ScopeError):
        list(user.memberships.all())


def test_unscoped_is_the_named_escape_hatch_and_survives_chaining(team, other_org):
    services.team_create(organization=other_org, actor=None, slug="t", name="Theirs")
    assert Team.objects.unscoped().filter(slug="t").order_by("name").count() == 2
    assert Team.objects.unscoped().none().count() == 0
    assert Team.objects.none().count() == 0


def test_every_model_with_an_organization_is_a_guarded_tenant_model():
    for model in apps.get_models():
        fields = {f.name: f for f in model._meta.get_fields()}
        organization = fields.get("organization")
        if organization is None or not organization.is_relation or model is Organization:
            continue
        assert organization.related_model is Organization, model
        assert issubclass(model, TenantModel), f"{model.__name__} must extend TenantModel"
        assert isinstance(model._default_manager.all(), TenantQuerySet), model


def test_tenant_unique_constraints_lead_with_the_organization():
    for model in apps.get_models():
        if not issubclass(model, TenantModel):
            continue
        for constraint in model._meta.constraints:
            fields = getattr(constraint, "fields", ())
            if fields:
                assert fields[0] == "organization", f"{model.__name__}.{constraint.name}"
        for index in model._meta.indexes:
            if index.fields[0] != "organization":
                # Only the deliberately cross-tenant lookup of a user's own memberships.
                assert (model.__name__, index.fields) == ("Membership", ["user", "organization"])
