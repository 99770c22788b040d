"""Markdown rendered the way GitHub renders it, and what GitHub does to the HTML afterwards.

cmark-gfm (through cmarkgfm) with GitHub's extensions and raw HTML allowed, as github.com runs it
before its sanitizer. GitHub then links `@name`, `#123` and `GH-123` in the page's text (not inside
links, code or pre); `later_links` finds what that pass would link, with GitHub's own patterns.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

# html-pipeline's MentionFilter and IssueReferenceFilter patterns, as GitHub applies them. Its
# atomic group `(?>…)` (Python 3.11+) is written as a lookahead and a backreference, which match
# the same way and work on 3.10 too.
MENTION = re.compile(
    r"(?:^|\W)@(?=([a-z0-9][a-z0-9-]*))\1(?!/)(?=\.+[ \t\W]|\.+$|[^0-9a-zA-Z_.]|$)", re.I
)
ISSUE = re.compile(r"(?:^|\W)(?:[\w.-]+/[\w.-]+)?(?:#|GH-)(\d+)\b", re.I)
SKIPPED_PARENTS = {"a", "pre", "code", "style", "script"}


def render(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


class _Texts(HTMLParser):
    """Text nodes with the names of their open ancestors; links with their targets and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.texts: list[tuple[str, tuple[str, ...]]] = []
        self.links: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("br", "hr", "img", "input"):
            self.open.append(tag)
        if tag == "a":
            self.links.append([dict(attrs).get("href") or "", ""])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        self.texts.append((data, tuple(self.open)))
        if "a" in self.open and self.links:
            self.links[-1][1] += data


def parse(html: str) -> _Texts:
    texts = _Texts()
    texts.feed(html)
    return texts


def later_links(html: str) -> list[str]:
    """What GitHub's pass over the rendered text would turn into a mention or an issue link."""
    found = []
    for text, parents in parse(html).texts:
        if SKIPPED_PARENTS & set(parents):
            continue
        found += ["@" + m for m in MENTION.findall(text)]
        found += ["#" + m for m in ISSUE.findall(text)]
    return found


def links(html: str) -> list[tuple[str, str]]:
    """(href, text) of every link."""
    return [(href, text) for href, text in parse(html).links]


def tables(html: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts (header row first)."""
    out = []
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            rows.append(["".join(t for t, _ in parse(c).texts) for c in cells])
        out.append(rows)
    return out


def alerts(markdown: str) -> list[tuple[str, str]]:
    """GitHub alerts: (type, first line of the body) for each `> [!TYPE]` blockquote."""
    return re.findall(r"^> \[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\n> (.*)$", markdown, re.M)
