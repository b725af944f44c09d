"""The CJK font the charts are drawn with, found by family name through matplotlib's font manager.

deploy/dev-setup.sh installs it (Debian/Ubuntu package fonts-wqy-microhei). Without it every Chinese label
would be drawn as empty boxes, so its absence is an error that says what to install, never a silent fallback.
"""

from __future__ import annotations

from matplotlib import font_manager

CJK_FAMILY = "WenQuanYi Micro Hei"
# After the CJK font, for the few symbols it may lack; bundled with matplotlib, so always present.
FALLBACK_FAMILY = "DejaVu Sans"


class FontMissing(RuntimeError):
    """The CJK font is not installed: Chinese labels would render as boxes."""


def cjk_families() -> list[str]:
    """The font families to draw with, CJK first; FontMissing if the CJK font is not installed."""
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    if CJK_FAMILY not in names:
        raise FontMissing(
            f"font {CJK_FAMILY!r} not found by matplotlib: install the package fonts-wqy-microhei "
            "(deploy/dev-setup.sh does), then remove matplotlib's font cache so it is seen"
        )
    return [CJK_FAMILY, FALLBACK_FAMILY]


__all__ = ["CJK_FAMILY", "FALLBACK_FAMILY", "FontMissing", "cjk_families"]
