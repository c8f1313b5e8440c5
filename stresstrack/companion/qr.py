"""Enrolment QR codes: the participant page's link with a one-time code, as an image.

Made on the server with segno (a pure-Python encoder of ISO/IEC 18004), so no outside
service ever sees a code. Error correction level M (about 15 % of the symbol may be lost,
e.g. to a screen's glare) and the standard's 4-module quiet zone.
"""

from __future__ import annotations

from typing import Final

import segno

__all__ = ["qr_data_uri"]

SCALE: Final = 6  # CSS pixels per module: a version-3 code (29 modules) is 222 px wide


def qr_data_uri(url: str) -> str:
    """An ``<img>``-ready SVG data URI of ``url``'s QR code.

    >>> from urllib.parse import unquote
    >>> uri = qr_data_uri("https://study.example.org/#code=1a2b-3c4d-5e6f")
    >>> uri.startswith("data:image/svg+xml"), unquote(uri).count("<svg")
    (True, 1)
    """
    code = segno.make_qr(url, error="m", boost_error=False)
    return str(code.svg_data_uri(scale=SCALE, border=4, dark="#000", light="#fff"))
