"""The Jinja environments: templates shipped as package data, filters registered from one dict.

In Markdown every value is escaped by default (the `finalize` hook): API text can neither inject
HTML nor break a table, a heading or a link. Values that are already safe are `Markup`.
"""

from __future__ import annotations

import re
from functools import cache

import jinja2
from markupsafe import Markup

from cekura_ci.text import clip, one_line

# Backslash-escapable ASCII punctuation that means something to GitHub Markdown, plus @ and #,
# which would mention people or link issues if the summary is posted as a comment.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&@$=-])")
_HTML_OR_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]<>()#+!|~&@$=\"'-]")


def markdown_text(value: object, limit: int | None = None) -> Markup:
    """Inline Markdown-safe text: one line, every special character escaped."""
    text = one_line(value, limit)
    return Markup(_MARKDOWN_SPECIAL.sub(r"\\\1", text))


def html_text(value: object, limit: int | None = None) -> Markup:
    """For text inside HTML elements such as `<summary>`: HTML escaped, and Markdown's special
    characters as character references, literal whether or not the renderer reads Markdown there."""
    return Markup(
        _HTML_OR_MARKDOWN_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", one_line(value, limit))
    )


def percent(value: float | None) -> Markup:
    return Markup("–" if value is None else f"{value:.2f}%")


def number(value: float | None) -> Markup:
    return Markup("–" if value is None else f"{value:g}")


def ours(value: object) -> Markup:
    """Text written by cekura-ci itself, never from the API: shown as it is."""
    return Markup(str(value))


def safe_url(value: object) -> Markup:
    """An http(s) link target with nothing that could end the Markdown link early."""
    text = str(value).strip()
    if not re.match(r"https?://", text, re.IGNORECASE):
        return Markup("#")
    return Markup(re.sub(r"[\s()<>\[\]\\`\"']", lambda m: f"%{ord(m.group()):02X}", text))


def _finalize_markdown(value: object) -> object:
    if isinstance(value, (Markup, int, float)) and not isinstance(value, bool):
        return value
    return markdown_text("" if value is None else value)


FILTERS = {
    "md": markdown_text,
    "html": html_text,
    "ours": ours,
    "url": safe_url,
    "pct": percent,
    "num": number,
    "line": one_line,
    "clip": clip,
}


@cache
def environment(markdown: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cekura_ci", "report/templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize_markdown if markdown else (lambda v: "" if v is None else v),
    )
    env.filters.update(FILTERS)
    return env


def render(template: str, **context: object) -> str:
    return environment(template.endswith(".md.j2")).get_template(template).render(**context)
