"""On-call pages outside the API: the acknowledgement link of a page's e-mail."""

from django.urls import path

from oncall import views

app_name = "oncall"

urlpatterns = [
    path(
        "o/<slug:org>/pages/<int:page>/acknowledge/<str:token>/",
        views.page_acknowledge_link,
        name="page-acknowledge",
    ),
]
