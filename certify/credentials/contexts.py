"""Bundled JSON-LD contexts and an offline pyld document loader.

Signing and verifying DIVOC credentials needs a handful of JSON-LD contexts.
They are bundled as JSON files in the ``contexts/`` directory next to this
module and served by :func:`make_document_loader`.  The loader never touches
the network: a URL that is neither bundled nor passed in ``extra`` raises
:class:`ContextNotAvailableError`.

Deployments publish the vaccination context under their own URL (DIVOC used
``https://cowin.gov.in/credentials/vaccination/v2``; the signed test vectors
use ``https://divoc.dev/credentials/vaccination/v1``).  Map such URLs with
:func:`context_alias`::

    loader = make_document_loader(
        context_alias("https://example.org/credentials/vaccination/v2", "vaccination-v2")
    )
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyld.context_resolver import ContextResolver

__all__ = [
    "CONTEXT_DIR",
    "CONTEXT_NAMES",
    "CREDENTIALS_V1_URL",
    "SECURITY_V1_URL",
    "SECURITY_V2_URL",
    "COWIN_VACCINATION_V1_URL",
    "COWIN_VACCINATION_V2_URL",
    "COWIN_TEST_CERTIFICATE_V1_URL",
    "DIVOC_VACCINATION_V1_URL",
    "DIVOC_VACCINATION_V2_URL",
    "DIVOC_TEST_CERTIFICATE_V1_URL",
    "WELL_KNOWN_CONTEXTS",
    "ContextNotAvailableError",
    "DocumentLoader",
    "context_alias",
    "load_context",
    "make_document_loader",
]

CONTEXT_DIR: Path = Path(__file__).resolve().parent / "contexts"

CREDENTIALS_V1_URL = "https://www.w3.org/2018/credentials/v1"
SECURITY_V1_URL = "https://w3id.org/security/v1"
SECURITY_V2_URL = "https://w3id.org/security/v2"
COWIN_VACCINATION_V1_URL = "https://cowin.gov.in/credentials/vaccination/v1"
COWIN_VACCINATION_V2_URL = "https://cowin.gov.in/credentials/vaccination/v2"
COWIN_TEST_CERTIFICATE_V1_URL = "https://cowin.gov.in/credentials/testCertificate/v1"
DIVOC_VACCINATION_V1_URL = "https://divoc.dev/credentials/vaccination/v1"
DIVOC_VACCINATION_V2_URL = "https://divoc.dev/credentials/vaccination/v2"
DIVOC_TEST_CERTIFICATE_V1_URL = "https://divoc.dev/credentials/testCertificate/v1"

#: Bundled context name -> file name in :data:`CONTEXT_DIR`.
_FILES: Mapping[str, str] = {
    "credentials-v1": "credentials-v1.json",
    "security-v1": "security-v1.json",
    "security-v2": "security-v2.json",
    "vaccination-v1": "vaccination-v1.json",
    "vaccination-v2": "vaccination-v2.json",
    "test-certificate-v1": "test-certificate-v1.json",
}

#: Names accepted by :func:`load_context` and :func:`context_alias`.
CONTEXT_NAMES: tuple[str, ...] = tuple(_FILES)

#: Well-known URL -> bundled context name.  Served by every loader.
WELL_KNOWN_CONTEXTS: Mapping[str, str] = {
    CREDENTIALS_V1_URL: "credentials-v1",
    SECURITY_V1_URL: "security-v1",
    SECURITY_V2_URL: "security-v2",
    COWIN_VACCINATION_V1_URL: "vaccination-v1",
    COWIN_VACCINATION_V2_URL: "vaccination-v2",
    COWIN_TEST_CERTIFICATE_V1_URL: "test-certificate-v1",
    DIVOC_VACCINATION_V1_URL: "vaccination-v1",
    DIVOC_VACCINATION_V2_URL: "vaccination-v2",
    DIVOC_TEST_CERTIFICATE_V1_URL: "test-certificate-v1",
}


class ContextNotAvailableError(LookupError):
    """A JSON-LD document was requested that the loader does not serve.

    Raised instead of fetching anything from the network.
    """

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD document {url!r} is not bundled and was not passed to "
            "make_document_loader(extra=...); refusing to fetch it"
        )
        self.url = url


@lru_cache(maxsize=None)
def _read_context(name: str) -> Mapping[str, Any]:
    try:
        file_name = _FILES[name]
    except KeyError:
        raise KeyError(
            f"unknown bundled context {name!r}; expected one of {', '.join(CONTEXT_NAMES)}"
        ) from None
    with (CONTEXT_DIR / file_name).open(encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


def load_context(name: str) -> dict[str, Any]:
    """Return a fresh copy of the bundled context document called ``name``.

    ``name`` is one of :data:`CONTEXT_NAMES`, e.g. ``"vaccination-v2"``.
    """
    return copy.deepcopy(dict(_read_context(name)))


def context_alias(url: str, name: str) -> dict[str, dict[str, Any]]:
    """Map a deployment's own context ``url`` to the bundled context ``name``.

    The result is meant for ``make_document_loader(extra=...)``; several
    aliases can be merged with ``{**a, **b}``.
    """
    return {url: load_context(name)}


class DocumentLoader:
    """An offline pyld document loader serving a fixed set of documents.

    Instances are callables with pyld's loader signature ``(url, options)``.
    They return the documents tagged ``static`` so that pyld caches processed
    contexts, and they own a :class:`pyld.context_resolver.ContextResolver`
    whose cache is private to this loader: two loaders that map the same URL
    to different documents never see each other's cached contexts.

    Treat instances as immutable; create a new loader for a different mapping.
    Loaders are safe to share between threads.
    """

    def __init__(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        self._documents: dict[str, Mapping[str, Any]] = {
            url: copy.deepcopy(dict(doc)) for url, doc in documents.items()
        }
        self._resolver_cache: dict[str, Any] = {}
        #: Free-form per-loader cache used by :mod:`certify.credentials.canonical`.
        self.cache: dict[str, Any] = {}

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return ``url``'s document in pyld's RemoteDocument shape."""
        try:
            document = self._documents[url]
        except KeyError:
            raise ContextNotAvailableError(url) from None
        return {
            "contextUrl": None,
            "documentUrl": url,
            "document": document,
            "contentType": "application/ld+json",
            "tag": "static",
        }

    def __contains__(self, url: object) -> bool:
        return url in self._documents

    def __iter__(self) -> Iterator[str]:
        return iter(self._documents)

    @property
    def urls(self) -> frozenset[str]:
        """The URLs this loader serves."""
        return frozenset(self._documents)

    def document(self, url: str) -> dict[str, Any]:
        """Return a copy of the document served for ``url``."""
        return copy.deepcopy(dict(self(url)["document"]))

    def context_resolver(self) -> ContextResolver:
        """A pyld ContextResolver sharing this loader's private context cache."""
        return ContextResolver(self._resolver_cache, self)

    def pyld_options(self, **extra: Any) -> dict[str, Any]:
        """pyld options using this loader and its private context cache."""
        options: dict[str, Any] = {
            "documentLoader": self,
            "contextResolver": self.context_resolver(),
        }
        options.update(extra)
        return options

    def __repr__(self) -> str:
        return f"DocumentLoader({sorted(self._documents)!r})"


def make_document_loader(extra: Mapping[str, Mapping[str, Any]] | None = None) -> DocumentLoader:
    """Build an offline document loader.

    It serves every URL in :data:`WELL_KNOWN_CONTEXTS` plus the documents in
    ``extra`` (URL -> JSON-LD document; ``extra`` wins on conflicts).  Any
    other URL raises :class:`ContextNotAvailableError`; nothing is ever
    fetched.  Reuse one loader for many documents: its context cache is what
    makes canonicalisation fast.
    """
    documents: dict[str, Mapping[str, Any]] = {
        url: _read_context(name) for url, name in WELL_KNOWN_CONTEXTS.items()
    }
    if extra:
        for url, doc in extra.items():
            if not isinstance(url, str) or not isinstance(doc, Mapping):
                raise TypeError("extra must map URL strings to JSON-LD documents (dicts)")
            documents[url] = doc
    return DocumentLoader(documents)
