"""The Jinja environments: templates shipped as package data, filters registered from one dict.

In Markdown every value is escaped by default (the `finalize` hook): API text can neither inject
HTML nor break a table, a heading or a link. Values that are already safe are `Markup`.
"""

from __future__ import annotations

import contextlib
import re
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from cekura_ci.text import clip, one_line

# Backslash-escapable ASCII punctuation that means something to GitHub Markdown.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&@$=-])")
_HTML_OR_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]<>()#+!|~&@$=\"'-]")

#: U+2060 WORD JOINER: invisible and unbreakable. GitHub links `@name`, `#123` and `GH-123` in the
#: rendered page's text (a backslash before them only reaches cmark-gfm, not that later pass, and an
#: HTML entity decodes back to the same text), so a joiner after the sign is what keeps API text
#: from mentioning people or linking issues. It also ends an e-mail autolink (`a@b.com`).
WORD_JOINER = "\u2060"
#: `GH-12` after any letter too: `acme/agentGH-5` is a cross-repository reference to acme/agent#5.
_MENTION = re.compile(r"([@#])(?=[0-9A-Za-z])|(gh-)(?=\d)", re.IGNORECASE)

# A URL as GitHub's autolinker would see it; `…` is our clip mark, never part of a URL.
_URL = re.compile(
    r"(?<![\w@.])(?:(?:https?|ftp)://[^\s<>…/?#]+|www\.[^\s<>…/?#]+\.[^\s<>…/?#]+)[^\s<>…]*", re.I
)
_URL_TRAILING = "?!.,:;*_~'\""
#: In a link destination between <>: what cmark-gfm would read as markup (`<`, `>`), keep as a
#: backslash (`\\`) or decode as an entity (`&`), and what would split a table cell (`|`).
_DESTINATION_UNSAFE = re.compile(r"[\s<>\\|`\"']")


def _break_mentions(text: str) -> str:
    return _MENTION.sub(lambda m: (m.group(1) or m.group(2)) + WORD_JOINER, text)


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _break_mentions(text))


def _trim_url(url: str) -> str:
    """Drop trailing punctuation and unbalanced closing parentheses, as GitHub's autolinker does."""
    while url and (
        url[-1] in _URL_TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))
    ):
        url = url[:-1]
    return url


def _link(url: str) -> str:
    """An explicit link for a URL found in API text: the text shown as it came, escaped like any
    text; the target percent-encoded where Markdown would read it. No backslash reaches the link
    (cmark-gfm keeps backslash escapes inside autolinked URLs) and nothing in it is markup."""
    href = "http://" + url if url.lower().startswith("www.") else url
    href = _DESTINATION_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", href).replace("&", "&amp;")
    return f"[{_escape(url)}](<{href}>)"


def markdown_text(value: object, limit: int | None = None) -> Markup:
    """Inline Markdown-safe text: one line, every special character escaped, URLs as clean links,
    no mentions and no issue links."""
    text = one_line(value, limit)
    parts, start = [], 0
    for match in _URL.finditer(text):
        url = _trim_url(match.group())
        if not url:
            continue
        parts += [_escape(text[start : match.start()]), _link(url)]
        start = match.start() + len(url)
    parts.append(_escape(text[start:]))
    return Markup("".join(parts))


def html_text(value: object, limit: int | None = None) -> Markup:
    """For text inside HTML elements such as `<summary>`: HTML escaped, and Markdown's special
    characters as character references, literal whether or not the renderer reads Markdown there.
    No mentions or issue links either (GitHub links them in HTML text too)."""
    return Markup(
        _HTML_OR_MARKDOWN_SPECIAL.sub(
            lambda m: f"&#{ord(m.group())};", _break_mentions(one_line(value, limit))
        )
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


#: Compiled templates, filled when the image is built (`precompile`). Jinja compiles a template
#: from source on first use, which costs a short-lived step more than rendering it; it reads them
#: from here instead, when the folder exists (it does not in a plain install: nothing is written).
COMPILED = Path(__file__).parent / "templates" / "__compiled__"


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Read what `precompile` wrote; a template not there is compiled and, if the folder cannot
    be written, simply not kept."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


@cache
def environment(markdown: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cekura_ci", "report/templates"),
        bytecode_cache=_CompiledTemplates(str(COMPILED)) if COMPILED.is_dir() else None,
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


def precompile() -> None:
    """Compile every template into COMPILED (the image's build does this once)."""
    COMPILED.mkdir(exist_ok=True)
    environment.cache_clear()
    for markdown in (True, False):
        env = environment(markdown)
        for name in env.list_templates(extensions=["j2"]):
            if name.endswith(".md.j2") == markdown:
                env.get_template(name)
