from incidents.roles import RESPONDERS
from tenancy.models import Role
from tenancy.roles import ADMIN_ROLES, ALL_ROLES, grant, model_perms


def grant_review_permissions() -> None:
    # Everyone but reporters reads reviews; responders and up write them.
    readers = [role for role in ALL_ROLES if role != Role.REPORTER]
    grant(readers, ["reviews.view_postincidentreview", "reviews.view_actionitem"])
    grant(RESPONDERS, model_perms("reviews", "postincidentreview", ("add", "change")))
    grant(RESPONDERS, model_perms("reviews", "actionitem", ("add", "change", "delete")))
    grant(ADMIN_ROLES, ["reviews.delete_postincidentreview"])
