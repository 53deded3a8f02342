"""``{{ text|markdown }}``: Markdown rendered to safe HTML for the portal.

markdown-it-py renders CommonMark with raw HTML disabled (it comes out as text) and no
linkify; nh3 then keeps only basic tags, ``href`` on links with an http(s)/mailto scheme
(or a relative URL), and adds ``rel="nofollow noopener"``. Scripts, event attributes and
``javascript:`` links do not survive either step.
"""

from __future__ import annotations

import nh3
from django import template
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

register = template.Library()

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "*": set()}  # no generic title/lang either
URL_SCHEMES = {"http", "https", "mailto"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable("table")


def render_markdown(text: str) -> str:
    html = _md.render(text or "").replace("<br />\n", "<br />")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
        strip_comments=True,
    )


@register.filter(is_safe=True)
def markdown(value) -> str:
    return mark_safe(render_markdown(str(value or "")))  # noqa: S308 -- sanitized by nh3
