"""What the report's drawings need beyond drawsvg: SVG inlined in HTML, attribute values
escaped (drawsvg escapes text, not attributes), and a hyperlink element.

>>> attr('a"b<c')
'a&quot;b&lt;c'
"""

from __future__ import annotations

import html

import drawsvg as draw  # type: ignore[import-untyped]


class Link(draw.DrawingParentElement):  # type: ignore[misc]
    """An SVG hyperlink (``<a href>``), which drawsvg does not have."""

    TAG_NAME = "a"

    def __init__(self, href: str) -> None:
        super().__init__(href=attr(href))


def attr(value: str) -> str:
    """`value` made safe inside a double-quoted attribute."""
    return html.escape(value, quote=True)


def inline_svg(drawing: draw.Drawing) -> str:
    """The drawing's SVG element alone, for inlining in HTML: no XML header, no empty defs."""
    text = str(drawing.as_svg(header=""))
    return text.replace("<defs>\n</defs>\n", "")
