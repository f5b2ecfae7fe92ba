"""Content negotiation for the simple API, the way Warehouse chooses (PEP 691).

Why hand-rolled: no third-party parser is available in bare containers. Rules: every offer gets
the q-value of the most specific Accept range matching it; highest q wins; ties go to the server's
order (``text/html`` first, as Warehouse lists it); nothing acceptable -> ``text/html``.
"""

from __future__ import annotations

TEXT_HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
OFFERS = (TEXT_HTML, V1_HTML, V1_JSON)
_ALIASES = {
    "application/vnd.pypi.simple.latest+html": V1_HTML,
    "application/vnd.pypi.simple.latest+json": V1_JSON,
}


def _parse(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value.strip())))
                except ValueError:
                    q = 0.0
        ranges.append((_ALIASES.get(media, media), q))
    return ranges


def _quality(offer: str, ranges: list[tuple[str, float]]) -> float | None:
    best: tuple[int, float] | None = None
    main = offer.split("/")[0]
    for media, q in ranges:
        if media == offer:
            spec = 2
        elif media == f"{main}/*":
            spec = 1
        elif media == "*/*":
            spec = 0
        else:
            continue
        if best is None or spec > best[0]:
            best = (spec, q)
    return None if best is None else best[1]


def choose(accept: str | None, format_param: str | None = None, offers: tuple[str, ...] = OFFERS) -> str:
    """The content type to serve; ``?format=`` overrides Accept as it does on Warehouse.

    ``offers`` lets the server act like an HTML-only (pre-PEP 691) upstream.
    """
    if format_param:
        chosen = _ALIASES.get(format_param, format_param)
        if chosen in offers:
            return chosen
    if not accept:
        return TEXT_HTML
    ranges = _parse(accept)
    scored = [(q, -i, offer) for i, offer in enumerate(offers)
              if (q := _quality(offer, ranges)) is not None and q > 0]
    return max(scored)[2] if scored else TEXT_HTML
