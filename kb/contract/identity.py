"""How kb matches identities across sources: people's, and the services repositories hold."""

from __future__ import annotations

import functools
import re
import unicodedata


def normalise_email(email: str) -> str:
    """Emails match case-insensitively."""
    return email.strip().lower()


@functools.lru_cache(maxsize=65536)  # the same authors' names come back commit after commit
def normalise_name(name: str) -> str:
    """Names match ignoring case, accents, spacing and ./_/- ("José_Ruiz" == "jose ruiz")."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    for sep in "._-":
        folded = folded.replace(sep, " ")
    return " ".join(folded.casefold().split())


def service_of_repo(repo: str | None) -> str | None:
    """The service a repository is, by its name: a repo called `*-service` is that service."""
    return repo if repo and repo.endswith("-service") else None


_SERVICE_SUFFIX = re.compile(r"(?:service|services|svc)$")


@functools.lru_cache(maxsize=4096)
def service_key(name: str) -> str:
    """The key under which spellings of one service match.

    Accents dropped, lowercased, everything but letters and digits removed, then one
    trailing `service`, `services` or `svc`: checkout, checkoutservice, checkout-service,
    Checkout_Service and CheckoutService are one service; Catalog.API is catalog-api.
    """
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    flat = re.sub(r"[^a-z0-9]", "", folded)
    return _SERVICE_SUFFIX.sub("", flat) or flat
