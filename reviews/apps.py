from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Post-incident reviews"

    def ready(self):
        from incidents.panels import register_incident_panel
        from reviews import roles, views

        roles.grant_review_permissions()
        register_incident_panel("reviews/_incident_panel.html", views.incident_panel, order=40)

    def seed_demo(self, *, organization, users, stdout):
        from reviews.demo import seed

        seed(organization=organization, users=users, stdout=stdout)
