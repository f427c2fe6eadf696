"""HTML for notebooks: generated code highlighted with pygments when it is installed,
as a plain <pre> block otherwise; and the table cells the compare report is made of."""
from __future__ import annotations

import html


def code_html(source: str) -> str:
    """Python source as HTML: pygments' highlighting (inline styles, no stylesheet to load)
    or, without pygments, an escaped <pre>."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre>{html.escape(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))


def table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    """An HTML table of already formatted text cells (escaped here)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
