"""Pure renderers: a Verdict in, text out. Markdown and console text come from Jinja templates."""
