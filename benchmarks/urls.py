"""Beacon's URLs plus ``bench/bare/``: the baseline of the ingestion benchmark.

The bare view runs on the same server behind the same middleware and inserts the body as
one row with one statement, so the gap between it and an alert endpoint is what ingestion
itself costs. Its table, ``bench_row``, is created by the benchmark script, not migrated.
"""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as beacon_urlpatterns


@csrf_exempt
def bare(request):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_row (body) VALUES (%s::jsonb)", [request.body.decode()])
    return HttpResponse(status=202)


urlpatterns = [path("bench/bare/", bare), *beacon_urlpatterns]
