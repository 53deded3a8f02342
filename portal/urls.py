from django.urls import path

from portal import views
from tenancy.urls import urlpatterns as tenancy_pages

app_name = "portal"

urlpatterns = [
    path("", views.index, name="index"),
    path("o/<slug:org>/", views.home, name="home"),
    *tenancy_pages,
]
