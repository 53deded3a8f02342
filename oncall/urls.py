"""Paging outside the API: the acknowledgement link of a page's e-mail (its own
namespace, beside the on-call portal pages' ``oncall``)."""

from django.urls import path

from oncall import views

app_name = "paging"

urlpatterns = [
    path(
        "o/<slug:org>/pages/<int:page>/acknowledge/<str:token>/",
        views.page_acknowledge_link,
        name="acknowledge",
    ),
]
