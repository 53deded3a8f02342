"""Incident attachments: the API and the portal, limits, roles and organizations."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from incidents import services
from incidents.models import (
    STORED_NAME_MAX_BYTES,
    Attachment,
    Incident,
    TimelineEntry,
    cut_to_bytes,
)
from tenancy.models import Role

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def people(member):
    return {role: member(role) for role in Role}


@pytest.fixture
def incident(org, people):
    return services.incident_create(
        organization=org, actor=people[Role.REPORTER], title="Printer", reporter=people["reporter"]
    )


def api_url(org, incident, attachment=None):
    kwargs = {"org": org.slug, "number": incident.number}
    if attachment is None:
        return reverse("incident-attachment-list", kwargs=kwargs)
    pk = attachment if isinstance(attachment, int | str) else attachment.pk
    return reverse("incident-attachment-detail", kwargs={**kwargs, "attachment_id": pk})


def portal_url(org, incident, attachment=None):
    kwargs = {"org": org.slug, "number": incident.number}
    if attachment is None:
        return reverse("incidents:attachments", kwargs=kwargs)
    return reverse("incidents:attachment", kwargs={**kwargs, "attachment_id": attachment.pk})


def attach(org, incident, actor, name="screen.png", content=PNG):
    return services.attachment_add(
        organization=org, actor=actor, incident=incident, upload=upload(name, content)
    )


def body(response) -> bytes:
    return b"".join(response.streaming_content)


# The API --------------------------------------------------------------------------------


def test_upload_list_download_and_delete(
    api_client_for, org, people, incident, media, django_capture_on_commit_callbacks
):
    client = api_client_for(people[Role.RESPONDER])
    posted = client.post(
        api_url(org, incident), {"file": upload("screen.png", PNG, "image/png")}, format="multipart"
    )
    assert posted.status_code == 201, posted.content
    data = posted.json()
    assert set(data) == {
        "id",
        "name",
        "content_type",
        "size",
        "uploaded_by",
        "created_at",
        "download_url",
    }
    assert data["name"] == "screen.png"
    assert data["content_type"] == "image/png"
    assert data["size"] == len(PNG)
    assert data["uploaded_by"] == people[Role.RESPONDER].username
    assert data["download_url"].endswith(api_url(org, incident, data["id"]))

    attachment = Attachment.objects.for_org(org).get()
    parts = attachment.file.name.split("/")
    assert parts[:3] == ["attachments", str(org.pk), str(incident.pk)]
    assert len(parts[3]) == 32
    assert parts[4] == "screen.png"
    assert (media / attachment.file.name).read_bytes() == PNG
    entry = TimelineEntry.objects.for_org(org).filter(incident=incident).latest("id")
    assert (entry.kind, entry.data) == ("attachment_added", {"name": "screen.png"})

    listing = client.get(api_url(org, incident)).json()["results"]
    assert [row["id"] for row in listing] == [data["id"]]

    download = client.get(api_url(org, incident, data["id"]))
    assert download.status_code == 200
    assert body(download) == PNG
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"] == 'attachment; filename="screen.png"'
    assert download["X-Content-Type-Options"] == "nosniff"

    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.delete(api_url(org, incident, data["id"]))
    assert deleted.status_code == 204
    assert not Attachment.objects.for_org(org).exists()
    assert stored_files(media) == []
    assert client.get(api_url(org, incident, data["id"])).status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("report.pdf", PNG, "application/pdf"),  # a PNG named .pdf
        ("notes.txt", EXE, "text/plain"),  # an .exe renamed .txt
        ("setup.exe", EXE, "application/octet-stream"),
        ("notes.txt", b"caf\xe9 latin-1", "text/plain"),  # not UTF-8
        ("data.json", b'{"a": 1}\x00', "application/json"),
        ("image.png", PDF, "image/png"),
        ("page.html", b"<script>alert(1)</script>", "text/html"),
        ("noextension", b"<svg onload=alert(1)>", "image/svg+xml"),
        ("empty.txt", b"", "text/plain"),
    ],
)
def test_wrong_types_are_refused_and_nothing_is_stored(
    api_client_for, org, people, incident, media, name, content, content_type
):
    client = api_client_for(people[Role.RESPONDER])
    response = client.post(
        api_url(org, incident), {"file": upload(name, content, content_type)}, format="multipart"
    )
    assert response.status_code == 400
    assert "file" in response.json()
    assert not Attachment.objects.for_org(org).exists()
    assert stored_files(media) == []


def test_oversize_is_refused_and_nothing_is_stored(
    api_client_for, org, people, incident, media, settings
):
    settings.ATTACHMENT_MAX_BYTES = 1024
    client = api_client_for(people[Role.RESPONDER])
    response = client.post(
        api_url(org, incident), {"file": upload("big.txt", b"a" * 1025)}, format="multipart"
    )
    assert response.status_code == 400
    assert "too large" in response.json()["file"][0]
    assert not Attachment.objects.for_org(org).exists()
    assert stored_files(media) == []
    ok = client.post(
        api_url(org, incident), {"file": upload("fits.txt", b"a" * 1024)}, format="multipart"
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("app.log", "Fehler: Gerät ✓\n".encode(), "text/plain"),
        ("rows.csv", b"a,b\n1,2\n", "text/csv"),
        ("doc.pdf", PDF, "application/pdf"),
        ("photo.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        ("anim.gif", b"GIF89a" + b"\x00" * 20, "image/gif"),
        ("pic.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("logs.zip", b"PK\x03\x04" + b"\x00" * 30, "application/zip"),
        ("big.txt", "é".encode() * 5000, "text/plain"),  # a character cut at 8 KB
    ],
)
def test_allowed_types_store_the_sniffed_type(
    api_client_for, org, people, incident, name, content, expected
):
    client = api_client_for(people[Role.RESPONDER])
    # The client's content type is not trusted: the stored one follows name and bytes.
    response = client.post(
        api_url(org, incident), {"file": upload(name, content, "text/html")}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == expected


def test_file_names_are_sanitized(org, people, incident, media):
    attachment = attach(org, incident, people[Role.RESPONDER], "../../etc/pass wd.txt", b"x")
    assert attachment.original_name == "pass wd.txt"
    assert attachment.file.name.startswith(f"attachments/{org.pk}/{incident.pk}/")
    assert attachment.file.name.endswith("/pass_wd.txt")
    assert (media / attachment.file.name).is_file()


@pytest.mark.parametrize(
    "name",
    [
        "事故報告" * 60 + ".txt",  # 3 bytes a character: 100 characters pass 255 bytes
        "Ünïcödé_" * 30 + ".txt",
    ],
    ids=["cjk", "latin"],
)
def test_a_long_name_in_any_script_is_stored(api_client_for, org, people, incident, media, name):
    client = api_client_for(people[Role.RESPONDER])
    response = client.post(
        api_url(org, incident), {"file": upload(name, b"notes", "text/plain")}, format="multipart"
    )
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.for_org(org).get()
    assert attachment.original_name == name
    stored = attachment.file.name.rsplit("/", 1)[-1]
    assert len(stored.encode()) <= STORED_NAME_MAX_BYTES
    assert stored.endswith(".txt")
    assert (media / attachment.file.name).read_bytes() == b"notes"


def test_stored_names_are_cut_by_bytes_between_characters():
    assert cut_to_bytes("screen.png", 100) == "screen.png"
    assert cut_to_bytes("é" * 100 + ".png", 21) == "é" * 8 + ".png"  # 17 bytes: 8 whole é
    assert cut_to_bytes("a." + "é" * 50, 20) == "a." + "é" * 9  # no room for that extension


def test_reporters_attach_to_their_own_incidents_only(api_client_for, org, people, member):
    reporter = people[Role.REPORTER]
    own = services.incident_create(
        organization=org, actor=reporter, title="Mine", reporter=reporter
    )
    other = services.incident_create(
        organization=org, actor=None, title="Theirs", reporter=member(Role.REPORTER)
    )
    client = api_client_for(reporter)
    ok = client.post(api_url(org, own), {"file": upload("a.txt", b"hello")}, format="multipart")
    assert ok.status_code == 201
    theirs = client.post(api_url(org, other), {"file": upload("a.txt", b"hi")}, format="multipart")
    assert theirs.status_code == 404
    attachment = attach(org, other, people[Role.RESPONDER])
    assert client.get(api_url(org, other, attachment)).status_code == 404
    # Reporters do not remove files, even their own.
    mine = Attachment.objects.for_org(org).get(incident=own)
    assert client.delete(api_url(org, own, mine)).status_code == 403
    assert Attachment.objects.for_org(org).filter(pk=mine.pk).exists()


def test_a_reporter_who_is_not_the_incidents_reporter_is_refused_by_the_service(
    org, people, member, incident
):
    from core.errors import Forbidden

    with pytest.raises(Forbidden):
        attach(org, incident, member(Role.REPORTER))
    with pytest.raises(Forbidden):
        attach(org, incident, people[Role.STAKEHOLDER])


def test_stakeholders_read_but_do_not_upload_or_delete(api_client_for, org, people, incident):
    attachment = attach(org, incident, people[Role.RESPONDER])
    client = api_client_for(people[Role.STAKEHOLDER])
    refused = client.post(
        api_url(org, incident), {"file": upload("a.txt", b"x")}, format="multipart"
    )
    assert refused.status_code == 403
    assert client.delete(api_url(org, incident, attachment)).status_code == 403
    assert len(client.get(api_url(org, incident)).json()["results"]) == 1
    assert body(client.get(api_url(org, incident, attachment))) == PNG
    assert Attachment.objects.for_org(org).count() == 1


def test_api_keys_of_responders_upload(api_client_for, api_key_for, org, incident):
    client = api_client_for(api_key_for(Role.RESPONDER))
    response = client.post(
        api_url(org, incident), {"file": upload("k.txt", b"k")}, format="multipart"
    )
    assert response.status_code == 201
    assert response.json()["uploaded_by"] is None


def test_another_organizations_incident_and_attachment_are_not_found(
    api_client_for, org, other_org, people, member, incident
):
    stranger = member(Role.OWNER, organization=other_org)
    theirs = services.incident_create(
        organization=other_org, actor=stranger, title="Secret", reporter=stranger
    )
    secret = attach(other_org, theirs, stranger, "secret.txt", b"Secret")
    client = api_client_for(people[Role.OWNER])
    mine = attach(org, incident, people[Role.OWNER])
    # Their organization in the URL, ours with their attachment id, their id under our incident.
    assert client.get(api_url(other_org, theirs)).status_code == 404
    for target in (api_url(org, incident, secret.pk), api_url(other_org, theirs, secret.pk)):
        for method in ("get", "delete"):
            assert getattr(client, method)(target).status_code == 404, (method, target)
    # An attachment of another incident of ours is not found under this one either.
    second = services.incident_create(organization=org, actor=None, title="Second")
    assert client.get(api_url(org, second, mine.pk)).status_code == 404
    assert client.get(api_url(org, incident, "abc")).status_code == 404
    assert Attachment.objects.unscoped().count() == 2


def test_the_attachment_list_costs_the_same_queries_for_1_or_many(
    api_client_for, org, people, member, incident
):
    client = api_client_for(people[Role.RESPONDER])
    attach(org, incident, people[Role.RESPONDER])
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert len(client.get(api_url(org, incident)).json()["results"]) == 1
    for _ in range(5):
        attach(org, incident, member(Role.RESPONDER))
    with CaptureQueriesContext(connection) as six:
        assert len(client.get(api_url(org, incident)).json()["results"]) == 6
    assert len(six) == len(one)


def test_the_schema_documents_the_attachment_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/orgs/{org}/incidents/{number}/attachments/" in schema["paths"]
    assert "/api/v1/orgs/{org}/incidents/{number}/attachments/{attachment_id}/" in schema["paths"]


# The portal -----------------------------------------------------------------------------


def test_the_report_form_takes_several_files(client_for, org, people, media):
    client = client_for(people[Role.REPORTER])
    response = client.post(
        reverse("incidents:new", kwargs={"org": org.slug}),
        {
            "title": "Broken",
            "impact": 3,
            "urgency": 3,
            "files": [upload("a.png", PNG, "image/png"), upload("b.log", b"line\n")],
        },
    )
    assert response.status_code == 302
    incident = Incident.objects.for_org(org).get()
    names = sorted(
        a.original_name for a in Attachment.objects.for_org(org).filter(incident=incident)
    )
    assert names == ["a.png", "b.log"]
    assert len(stored_files(media)) == 2
    page = client.get(response["Location"]).content.decode()
    for attachment in Attachment.objects.for_org(org):
        assert portal_url(org, incident, attachment) in page


def test_the_report_form_refuses_a_bad_file_and_stores_nothing(client_for, org, people, media):
    client = client_for(people[Role.REPORTER])
    response = client.post(
        reverse("incidents:new", kwargs={"org": org.slug}),
        {
            "title": "Broken",
            "impact": 3,
            "urgency": 3,
            "files": [upload("a.png", PNG), upload("virus.txt", EXE)],
        },
    )
    assert response.status_code == 200
    assert (
        "virus.txt: The file&#x27;s content does not match its type." in response.content.decode()
    )
    assert not Incident.objects.for_org(org).exists()
    assert not Attachment.objects.unscoped().exists()
    assert stored_files(media) == []


def test_upload_download_and_remove_on_the_incident_page(
    client_for, org, people, incident, media, django_capture_on_commit_callbacks
):
    client = client_for(people[Role.RESPONDER])
    page = client.get(
        reverse("incidents:detail", kwargs={"org": org.slug, "number": incident.number})
    )
    assert 'enctype="multipart/form-data"' in page.content.decode()
    response = client.post(portal_url(org, incident), {"files": [upload("x.csv", b"a,b\n")]})
    assert response.status_code == 302
    attachment = Attachment.objects.for_org(org).get()
    assert attachment.content_type == "text/csv"
    download = client.get(portal_url(org, incident, attachment))
    assert download.status_code == 200
    assert body(download) == b"a,b\n"
    assert download["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert download["X-Content-Type-Options"] == "nosniff"
    with django_capture_on_commit_callbacks(execute=True):
        removed = client.post(portal_url(org, incident, attachment))
    assert removed.status_code == 302
    assert not Attachment.objects.for_org(org).exists()
    assert stored_files(media) == []


def test_the_incident_page_refuses_oversize_and_wrong_types(
    client_for, org, people, incident, media, settings
):
    settings.ATTACHMENT_MAX_BYTES = 10
    client = client_for(people[Role.RESPONDER])
    for files in ([upload("big.txt", b"a" * 11)], [upload("r.pdf", b"abc")]):
        response = client.post(portal_url(org, incident), {"files": files})
        assert response.status_code == 400
        assert "The files were not attached" in response.content.decode()
    assert not Attachment.objects.unscoped().exists()
    assert stored_files(media) == []


def test_portal_roles(client_for, org, people, member, incident):
    attachment = attach(org, incident, people[Role.RESPONDER])
    stakeholder = client_for(people[Role.STAKEHOLDER])
    assert (
        stakeholder.post(portal_url(org, incident), {"files": [upload("a.txt", b"a")]}).status_code
        == 403
    )
    assert stakeholder.post(portal_url(org, incident, attachment)).status_code == 403
    assert stakeholder.get(portal_url(org, incident, attachment)).status_code == 200
    reporter = client_for(people[Role.REPORTER])
    ok = reporter.post(portal_url(org, incident), {"files": [upload("a.txt", b"a")]})
    assert ok.status_code == 302
    assert reporter.post(portal_url(org, incident, attachment)).status_code == 403
    somebody = client_for(member(Role.REPORTER))
    assert somebody.get(portal_url(org, incident, attachment)).status_code == 404
    assert (
        somebody.post(portal_url(org, incident), {"files": [upload("a.txt", b"a")]}).status_code
        == 404
    )
    assert Attachment.objects.for_org(org).count() == 2


def test_portal_another_organizations_attachment_is_not_found(
    client_for, org, other_org, people, member, incident
):
    stranger = member(Role.OWNER, organization=other_org)
    theirs = services.incident_create(
        organization=other_org, actor=stranger, title="Secret", reporter=stranger
    )
    secret = attach(other_org, theirs, stranger, "secret.txt", b"Secret")
    client = client_for(people[Role.OWNER])
    target = reverse(
        "incidents:attachment",
        kwargs={"org": org.slug, "number": incident.number, "attachment_id": secret.pk},
    )
    assert client.get(target).status_code == 404
    assert client.post(target).status_code == 404
    assert client.get(portal_url(other_org, theirs, secret)).status_code == 404
    assert Attachment.objects.unscoped().filter(pk=secret.pk).exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.REPORTER, Role.STAKEHOLDER])
def test_the_browsable_api_lists_attachments(api_client_for, org, people, incident, role):
    attach(org, incident, people[Role.RESPONDER])
    response = api_client_for(people[role]).get(api_url(org, incident), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


# Quota per incident ----------------------------------------------------------------------


def test_the_api_refuses_files_past_the_incidents_quota(
    api_client_for, org, people, incident, media, settings
):
    settings.ATTACHMENT_MAX_FILES_PER_INCIDENT = 2
    settings.ATTACHMENT_MAX_TOTAL_BYTES_PER_INCIDENT = 100
    client = api_client_for(people[Role.RESPONDER])

    def post(name, size):
        return client.post(
            api_url(org, incident), {"file": upload(name, b"a" * size)}, format="multipart"
        )

    assert post("one.txt", 60).status_code == 201
    over_bytes = post("two.txt", 41)
    assert over_bytes.status_code == 400
    assert over_bytes.json()["file"] == [
        "An incident keeps at most 100 bytes of files, and this one has 60 bytes."
    ]
    assert post("two.txt", 40).status_code == 201
    over_count = post("three.txt", 1)
    assert over_count.status_code == 400
    assert over_count.json()["file"] == ["An incident keeps at most 2 files, and this one has 2."]
    assert Attachment.objects.for_org(org).filter(incident=incident).count() == 2
    assert len(stored_files(media)) == 2


def test_the_quota_counts_per_incident(api_client_for, org, people, incident, settings):
    settings.ATTACHMENT_MAX_FILES_PER_INCIDENT = 1
    other = services.incident_create(organization=org, actor=people[Role.RESPONDER], title="Other")
    attach(org, incident, people[Role.RESPONDER])
    client = api_client_for(people[Role.RESPONDER])
    response = client.post(
        api_url(org, other), {"file": upload("a.png", PNG, "image/png")}, format="multipart"
    )
    assert response.status_code == 201


def test_the_incident_page_refuses_files_past_the_quota_and_stores_none(
    client_for, org, people, incident, media, settings
):
    settings.ATTACHMENT_MAX_FILES_PER_INCIDENT = 3
    attach(org, incident, people[Role.RESPONDER])
    client = client_for(people[Role.RESPONDER])
    files = [upload(f"{n}.txt", b"log line\n") for n in range(3)]
    response = client.post(portal_url(org, incident), {"files": files})
    assert response.status_code == 400
    assert "An incident keeps at most 3 files, and this one has 1." in response.content.decode()
    assert Attachment.objects.for_org(org).filter(incident=incident).count() == 1
    assert len(stored_files(media)) == 1


def test_the_report_form_refuses_files_past_the_quota(client_for, org, people, media, settings):
    settings.ATTACHMENT_MAX_TOTAL_BYTES_PER_INCIDENT = 10
    client = client_for(people[Role.REPORTER])
    response = client.post(
        reverse("incidents:new", kwargs={"org": org.slug}),
        {
            "title": "Printer on fire",
            "impact": 3,
            "urgency": 3,
            "files": [upload("a.txt", b"a" * 6), upload("b.txt", b"b" * 6)],
        },
    )
    assert response.status_code == 200
    assert "An incident keeps at most 10 bytes of files" in response.content.decode()
    assert not Incident.objects.for_org(org).exists()
    assert stored_files(media) == []


# Request bodies are capped before anything reads them -------------------------------------

MB = 1024 * 1024


def test_an_anonymous_upload_larger_than_the_small_limit_is_refused_unread(client, org, incident):
    """A declared 40 MB body: 413 from the length alone (the test client's body is tiny, so
    reading it would not find the size)."""
    for path in (portal_url(org, incident), api_url(org, incident), "/accounts/login/"):
        response = client.post(
            path,
            data=b"x",
            content_type="multipart/form-data; boundary=xyz",
            CONTENT_LENGTH=str(40 * MB),
        )
        assert response.status_code == 413, path
        assert b"too large" in response.content


def test_a_logged_in_user_or_an_api_key_may_send_an_attachments_size(
    client_for, api_client_for, api_key_for, org, people, incident, settings
):
    settings.REQUEST_MAX_BYTES = 4000  # everything but uploads; files are 10 MB here
    log = b"a line of the log\n" * 500  # 9,000 bytes

    def file():
        return {"file": upload("big.log", log)}

    api = api_client_for(api_key_for(Role.RESPONDER))
    assert api.post(api_url(org, incident), file(), format="multipart").status_code == 201
    portal = client_for(people[Role.RESPONDER])
    response = portal.post(portal_url(org, incident), {"files": [upload("big.log", log)]})
    assert response.status_code == 302
    for anonymous in (Client(), api_client_for("bcn_not-a-valid-key")):
        assert anonymous.post(api_url(org, incident), file()).status_code == 413
        assert (
            anonymous.post(portal_url(org, incident), {"files": [file()["file"]]}).status_code
            == 413
        )
    # Elsewhere the small limit holds for them too.
    incidents = reverse("incident-list", kwargs={"org": org.slug})
    response = api.post(incidents, {"title": "x", "description": "y" * 5000}, format="json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_alert_ingestion_keeps_its_own_limit_and_answer(client):
    response = client.post(
        "/v2/enqueue", data=b"{}", content_type="application/json", CONTENT_LENGTH=str(MB)
    )
    assert response.status_code == 413
    assert "512 KB" in response.json()["message"]  # the PagerDuty-style answer, not ours
