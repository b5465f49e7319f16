"""How kb matches people's identities across sources: one rule for the writer and the analyses."""

from __future__ import annotations

import unicodedata


def normalise_email(email: str) -> str:
    """Emails match case-insensitively."""
    return email.strip().lower()


def normalise_name(name: str) -> str:
    """Names match ignoring case, accents, spacing and ./_/- ("José_Ruiz" == "jose ruiz")."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    for sep in "._-":
        folded = folded.replace(sep, " ")
    return " ".join(folded.casefold().split())
