"""Safe Markdown in the portal: incident descriptions and timeline bodies."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services
from incidents.templatetags.incidents_markdown import render_markdown
from tenancy.models import Role

ATTACKS = [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<img src=x onerror=alert(1)>",
    '<div onclick="alert(1)">x</div>',
    "![x](javascript:alert(1))",
    "<iframe src=https://evil.example></iframe>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<style>body{display:none}</style><svg onload="alert(1)">',
]


@pytest.mark.parametrize("source", ATTACKS)
def test_attacks_are_neutralized(source):
    html = render_markdown(source).lower()
    assert "<script" not in html
    assert "<img" not in html
    assert "<iframe" not in html
    assert "<svg" not in html
    assert "<style" not in html
    assert "<div" not in html
    assert '<a href="javascript' not in html
    assert '<a href="data:' not in html
    # Attributes survive only as escaped text, never inside a tag.
    assert " onerror=" not in html.replace("&lt;img src=x onerror=", "")
    for tag in html.split("<")[1:]:
        assert "onclick" not in tag.split(">")[0]
        assert "onload" not in tag.split(">")[0]


def test_raw_html_is_shown_as_text():
    assert render_markdown("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"


def test_markdown_renders():
    html = render_markdown(
        "# Title\n\n**strong** and *em* and `code`\n\n- one\n- two\n\n1. first\n\n"
        "> quoted\n\n```\nblock\n```\n\n---\n\n[docs](https://example.com/a?b=1)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    for fragment in (
        "<h1>Title</h1>",
        "<strong>strong</strong>",
        "<em>em</em>",
        "<code>code</code>",
        "<ul>\n<li>one</li>",
        "<ol>\n<li>first</li>",
        "<blockquote>",
        "<pre><code>block\n</code></pre>",
        "<hr>",
        '<a href="https://example.com/a?b=1" rel="nofollow noopener">docs</a>',
        "<table>",
        "<td>1</td>",
    ):
        assert fragment in html, fragment


def test_links_keep_only_href_and_get_rel():
    html = render_markdown('[x](https://example.com "title")')
    assert html == '<p><a href="https://example.com" rel="nofollow noopener">x</a></p>\n'


def test_urls_are_not_linkified():
    assert "<a" not in render_markdown("see https://example.com")


def test_empty_text():
    assert render_markdown("") == ""


@pytest.mark.django_db
def test_the_incident_page_renders_safe_markdown(client_for, member, org):
    responder = member(Role.RESPONDER)
    incident = services.incident_create(
        organization=org,
        actor=responder,
        title="Markdown",
        description="**Bold** <script>alert('d')</script> [x](javascript:alert(2))",
    )
    services.incident_comment(
        organization=org,
        actor=responder,
        incident=incident,
        body="*note* <img src=x onerror=alert(3)>",
        is_public=True,
    )
    services.incident_post_update(
        organization=org, actor=responder, incident=incident, body="- [link](https://ok.example)"
    )
    client = client_for(responder)
    page = client.get(
        reverse("incidents:detail", kwargs={"org": org.slug, "number": incident.number})
    ).content.decode()
    assert "<strong>Bold</strong>" in page
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert('d')&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert "<em>note</em>" in page
    assert "<img" not in page
    assert '<a href="https://ok.example" rel="nofollow noopener">link</a>' in page
    fragment = client.get(
        reverse("incidents:timeline", kwargs={"org": org.slug, "number": incident.number})
    ).content.decode()
    assert "<em>note</em>" in fragment
    assert "<img" not in fragment
