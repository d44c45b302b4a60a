"""URDNA2015 canonical N-Quads of JSON-LD documents, fast and offline.

Two paths produce the same text:

* **Reference** – :func:`canonicalize_pyld` is plain ``pyld.jsonld.normalize``
  (URDNA2015, N-Quads).  It costs ~2.5 ms per vaccination credential even with
  cached contexts, almost all of it in JSON-LD expansion.
* **Fast** – :func:`canonicalize` compiles a document's *shape* once: every
  string leaf is replaced by a unique probe IRI, pyld turns the probe
  document into RDF, and the resulting quads become a template with slots.
  Documents with the same shape (same keys, contexts, ``type`` values, numbers
  and list lengths – i.e. every credential this system issues) then skip
  pyld: the slots are filled, duplicate quads dropped, and a compact URDNA2015
  implementation labels the blank nodes.  Any value the template cannot
  represent exactly (a relative or compact IRI, a blank-node id, ...) falls
  back to pyld's JSON-LD-to-RDF for that document, so the fast path never
  guesses.

**Escaping.** DIVOC's verifier (jsonld-signatures 6 / rdf-canonize 1.2)
escapes only ``"``, ``\\``, LF and CR in literals; pyld 3 also escapes TAB as
``\\t``.  A credential whose text contains a TAB therefore hashes differently
in pyld and in DIVOC.  Both paths here follow rdf-canonize 1.2 (TAB stays
raw) and sort lines in UTF-16 code-unit order like JavaScript, so signatures
verify in DIVOC's own library.  Without TABs and astral-plane characters the
output is byte-identical to pyld's, which the tests check.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from pyld import jsonld
from pyld.canon import URDNA2015
from pyld.identifier_issuer import IdentifierIssuer

from .contexts import DocumentLoader

__all__ = [
    "CanonicalizationError",
    "Quad",
    "canonicalize",
    "canonicalize_pyld",
    "canonicalize_quads",
    "sha256_canonical",
    "stats",
    "to_quads",
]

#: One RDF quad as serialised N-Quads terms: subject, predicate, object and
#: graph ("" for the default graph).  Blank nodes are ``_:label``.
Quad = tuple[str, str, str, str]

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_PROBE_SCHEME = "xcanonprobe7c1e"
_PROBE_PREFIX = _PROBE_SCHEME + ":"
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_TEMPLATE_CACHE_KEY = "canonical.templates"
_TERMS_CACHE_KEY = "canonical.terms"
_MAX_TEMPLATES = 1024


class CanonicalizationError(ValueError):
    """The document could not be turned into canonical N-Quads."""


#: Counters of which path :func:`to_quads` took (for tests and benchmarks).
stats: dict[str, int] = {"fast": 0, "compiled": 0, "fallback": 0}


# --------------------------------------------------------------------------
# N-Quads serialisation (rdf-canonize 1.2 compatible)
# --------------------------------------------------------------------------


def _escape(value: str) -> str:
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    return value


def _literal_suffix(datatype: str, language: str | None) -> str:
    if datatype == _RDF_LANGSTRING:
        return "@" + language if language else ""
    if datatype == _XSD_STRING:
        return ""
    return "^^<" + datatype + ">"


def _term(component: Mapping[str, Any]) -> str:
    kind = component["type"]
    if kind == "IRI":
        return "<" + str(component["value"]) + ">"
    if kind == "blank node":
        return str(component["value"])
    return (
        '"'
        + _escape(str(component["value"]))
        + '"'
        + _literal_suffix(component.get("datatype", _XSD_STRING), component.get("language"))
    )


def _dataset_to_quads(dataset: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Quad]:
    quads: list[Quad] = []
    for graph_name, triples in dataset.items():
        if graph_name == "@default":
            g = ""
        elif graph_name.startswith("_:"):
            g = graph_name
        else:
            g = "<" + graph_name + ">"
        for t in triples:
            quads.append((_term(t["subject"]), _term(t["predicate"]), _term(t["object"]), g))
    return quads


# --------------------------------------------------------------------------
# URDNA2015 over serialised quads
# --------------------------------------------------------------------------


def _line(s: str, p: str, o: str, g: str) -> str:
    if g:
        return s + " " + p + " " + o + " " + g + " .\n"
    return s + " " + p + " " + o + " .\n"


def _js_sorted(lines: list[str], astral: bool) -> list[str]:
    """Sort like JavaScript's ``Array.prototype.sort`` (UTF-16 code units)."""
    if astral:
        return sorted(lines, key=lambda s: s.encode("utf-16-be"))
    return sorted(lines)


def _pyld_component(term: str) -> dict[str, str]:
    if term.startswith("_:"):
        return {"type": "blank node", "value": term}
    if term.startswith("<"):
        return {"type": "IRI", "value": term[1:-1]}
    return {"type": "literal", "value": term}


def _n_degree_labels(
    bnode_quads: Mapping[str, list[Quad]],
    first_degree: Mapping[str, str],
    issued: Sequence[str],
    shared: Sequence[tuple[str, list[str]]],
) -> list[str]:
    """Resolve first-degree hash ties with pyld's Hash N-Degree Quads.

    pyld's n-degree algorithm never serialises literals, so it is
    escaping-agnostic once the first-degree hashes (computed here with
    rdf-canonize escaping) are pre-seeded.
    """
    algo = URDNA2015()
    converted: dict[int, dict[str, Any]] = {}
    for bnode, quads in bnode_quads.items():
        plist = []
        for q in quads:
            pq = converted.get(id(q))
            if pq is None:
                s, p, o, g = q
                pq = {
                    "subject": _pyld_component(s),
                    "predicate": {"type": "IRI", "value": p[1:-1]},
                    "object": _pyld_component(o),
                }
                if g:
                    pq["name"] = _pyld_component(g)
                converted[id(q)] = pq
            plist.append(pq)
        algo.blank_node_info[bnode] = {"quads": plist, "hash": first_degree[bnode]}
    for bnode in issued:
        algo.canonical_issuer.get_id(bnode)
    for _hash, id_list in shared:
        results = []
        for bnode in id_list:
            if algo.canonical_issuer.has_id(bnode):
                continue
            issuer = IdentifierIssuer("_:b")
            issuer.get_id(bnode)
            results.append(algo.hash_n_degree_quads(bnode, issuer))
        for result in sorted(results, key=lambda r: r["hash"]):
            for existing in result["issuer"].order:
                algo.canonical_issuer.get_id(existing)
    return list(algo.canonical_issuer.order)


def canonicalize_quads(quads: Iterable[Quad]) -> str:
    """Canonical N-Quads (URDNA2015) of a set of serialised quads.

    Duplicates are removed (an RDF dataset is a set).  Output lines are sorted
    and joined; blank nodes are relabelled ``_:c14n0``, ``_:c14n1``, ...
    """
    unique = list(dict.fromkeys(quads))
    bnode_quads: dict[str, list[Quad]] = {}
    for q in unique:
        s, _p, o, g = q
        # one reference per occurrence, as pyld and rdf-canonize do
        if s[0] == "_":
            bnode_quads.setdefault(s, []).append(q)
        if o[0] == "_":
            bnode_quads.setdefault(o, []).append(q)
        if g and g[0] == "_":
            bnode_quads.setdefault(g, []).append(q)

    astral = any(_ASTRAL.search(q[2]) for q in unique if q[2][0] == '"')

    if not bnode_quads:
        return "".join(_js_sorted([_line(*q) for q in unique], astral))

    first_degree: dict[str, str] = {}
    by_hash: dict[str, list[str]] = {}
    for bnode, quads in bnode_quads.items():
        lines = []
        for s, p, o, g in quads:
            if s[0] == "_":
                s = "_:a" if s == bnode else "_:z"
            if o[0] == "_":
                o = "_:a" if o == bnode else "_:z"
            if g and g[0] == "_":
                g = "_:a" if g == bnode else "_:z"
            lines.append(_line(s, p, o, g))
        digest = hashlib.sha256("".join(_js_sorted(lines, astral)).encode("utf-8")).hexdigest()
        first_degree[bnode] = digest
        by_hash.setdefault(digest, []).append(bnode)

    ordered = sorted(by_hash.items())
    issued = [ids[0] for _h, ids in ordered if len(ids) == 1]
    shared = [(h, ids) for h, ids in ordered if len(ids) > 1]
    order = issued if not shared else _n_degree_labels(bnode_quads, first_degree, issued, shared)
    labels = {bnode: "_:c14n" + str(i) for i, bnode in enumerate(order)}

    out = []
    for s, p, o, g in unique:
        if s[0] == "_":
            s = labels[s]
        if o[0] == "_":
            o = labels[o]
        if g and g[0] == "_":
            g = labels[g]
        out.append(_line(s, p, o, g))
    return "".join(_js_sorted(out, astral))


# --------------------------------------------------------------------------
# JSON-LD -> quads: compiled templates with a pyld fallback
# --------------------------------------------------------------------------

_Slot = tuple[int, Union[str, None]]  # (slot index, None for an IRI or the literal suffix)
_Part = Union[str, _Slot]


@dataclass(frozen=True, slots=True)
class _Template:
    quads: tuple[tuple[_Part, _Part, _Part, _Part], ...]
    iri_slots: frozenset[int]


class _Uncompilable(Exception):
    pass


def _pyld_options(loader: DocumentLoader) -> dict[str, Any]:
    return loader.pyld_options(
        base="",
        produceGeneralizedRdf=False,
        extractAllScripts=True,
        processingMode="json-ld-1.1",
    )


def _pyld_quads(document: Mapping[str, Any], loader: DocumentLoader) -> list[Quad]:
    try:
        dataset = jsonld.to_rdf(dict(document), _pyld_options(loader))
    except Exception as exc:  # pyld raises JsonLdError and assorted others
        raise CanonicalizationError(f"JSON-LD to RDF failed: {exc}") from exc
    return _dataset_to_quads(dataset)


def _context_info(loader: DocumentLoader) -> tuple[frozenset[str], frozenset[str]]:
    """(terms usable as IRI prefixes, terms aliasing keywords) of all loader docs."""
    cached = loader.cache.get(_TERMS_CACHE_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    terms: set[str] = set()
    verbatim: set[str] = {"type"}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not key.startswith("@"):
                    terms.add(key)
                    target = value.get("@id") if isinstance(value, dict) else value
                    if isinstance(target, str) and target.startswith("@") and target not in (
                        "@id",
                        "@value",
                    ):
                        verbatim.add(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for url in loader:
        walk(loader(url)["document"])
    info = (frozenset(terms), frozenset(verbatim))
    loader.cache[_TERMS_CACHE_KEY] = info
    return info


def _shape(
    node: Any, verbatim_keys: frozenset[str], values: list[str], verbatim: bool = False
) -> Any:
    """Hashable shape of ``node``; string leaves not kept verbatim go to ``values``."""
    if isinstance(node, str):
        if verbatim:
            return ("v", node)
        values.append(node)
        return "s"
    if isinstance(node, dict):
        items = []
        for key in sorted(node):
            if not isinstance(key, str):
                raise _Uncompilable
            value = node[key]
            if key == "@context":
                if not (
                    isinstance(value, str)
                    or (isinstance(value, list) and all(isinstance(v, str) for v in value))
                ):
                    raise _Uncompilable  # inline contexts: leave to pyld
                items.append((key, ("c", json.dumps(value))))
                continue
            keep = key in verbatim_keys or (key.startswith("@") and key not in ("@id", "@value"))
            items.append((key, _shape(value, verbatim_keys, values, keep)))
        return ("d", tuple(items))
    if isinstance(node, list):
        return ("l", tuple(_shape(item, verbatim_keys, values, verbatim) for item in node))
    if node is None:
        return "z"
    if isinstance(node, (bool, int, float)):
        return ("n", type(node).__name__, repr(node))
    raise _Uncompilable


def _probe(node: Any, verbatim_keys: frozenset[str], counter: list[int], verbatim: bool = False) -> Any:
    """Copy of ``node`` with every slotted string replaced by a probe IRI."""
    if isinstance(node, str):
        if verbatim:
            return node
        token = _PROBE_PREFIX + str(counter[0])
        counter[0] += 1
        return token
    if isinstance(node, dict):
        out = {}
        for key in sorted(node):
            value = node[key]
            if key == "@context":
                out[key] = value
                continue
            keep = key in verbatim_keys or (key.startswith("@") and key not in ("@id", "@value"))
            out[key] = _probe(value, verbatim_keys, counter, keep)
        return out
    if isinstance(node, list):
        return [_probe(item, verbatim_keys, counter, verbatim) for item in node]
    return node


def _compile(document: Mapping[str, Any], loader: DocumentLoader, verbatim_keys: frozenset[str]) -> _Template | None:
    probe = _probe(document, verbatim_keys, [0])
    try:
        dataset = jsonld.to_rdf(probe, _pyld_options(loader))
    except Exception:
        return None
    iri_slots: set[int] = set()
    quads = []

    def part(component: Mapping[str, Any]) -> _Part:
        value = component["value"]
        kind = component["type"]
        if isinstance(value, str) and value.startswith(_PROBE_PREFIX):
            index = value[len(_PROBE_PREFIX):]
            if index.isdigit():
                if kind == "IRI":
                    iri_slots.add(int(index))
                    return (int(index), None)
                if kind == "literal":
                    return (
                        int(index),
                        _literal_suffix(component.get("datatype", _XSD_STRING), component.get("language")),
                    )
        term = _term(component)
        if _PROBE_SCHEME in term:
            raise _Uncompilable  # a probe ended up inside another term (e.g. @json)
        return term

    try:
        for graph_name, triples in dataset.items():
            if graph_name == "@default":
                g: _Part = ""
            else:
                g = part({"type": "blank node" if graph_name.startswith("_:") else "IRI", "value": graph_name})
            for t in triples:
                quads.append((part(t["subject"]), part(t["predicate"]), part(t["object"]), g))
    except _Uncompilable:
        return None
    return _Template(tuple(quads), frozenset(iri_slots))


def _iri_ok(value: str, terms: frozenset[str]) -> bool:
    if not _ABSOLUTE_IRI.fullmatch(value):
        return False
    prefix = value.split(":", 1)[0]
    return prefix != "_" and prefix not in terms


def to_quads(document: Mapping[str, Any], loader: DocumentLoader) -> list[Quad]:
    """RDF quads of a JSON-LD ``document`` (serialised terms, may contain duplicates).

    Uses a compiled template for the document's shape when possible and
    pyld's JSON-LD-to-RDF otherwise.  Raises :class:`CanonicalizationError`.
    """
    if not isinstance(document, Mapping):
        raise CanonicalizationError("a JSON-LD document must be a JSON object")
    terms, verbatim_keys = _context_info(loader)
    values: list[str] = []
    try:
        shape = _shape(document, verbatim_keys, values)
    except (_Uncompilable, RecursionError):
        stats["fallback"] += 1
        return _pyld_quads(document, loader)

    templates: dict[Any, _Template | None] = loader.cache.setdefault(_TEMPLATE_CACHE_KEY, {})
    try:
        template = templates[shape]
    except KeyError:
        template = _compile(document, loader, verbatim_keys)
        if len(templates) >= _MAX_TEMPLATES:
            templates.clear()
        templates[shape] = template
        stats["compiled"] += 1
    if template is None or not all(_iri_ok(values[i], terms) for i in template.iri_slots):
        stats["fallback"] += 1
        return _pyld_quads(document, loader)

    stats["fast"] += 1
    rendered: dict[_Slot, str] = {}

    def fill(item: _Part) -> str:
        if isinstance(item, str):
            return item
        text = rendered.get(item)
        if text is None:
            index, suffix = item
            if suffix is None:
                text = "<" + values[index] + ">"
            else:
                text = '"' + _escape(values[index]) + '"' + suffix
            rendered[item] = text
        return text

    out: list[Quad] = []
    for s, p, o, g in template.quads:
        out.append(
            (
                s if isinstance(s, str) else fill(s),
                p if isinstance(p, str) else fill(p),
                o if isinstance(o, str) else fill(o),
                g if isinstance(g, str) else fill(g),
            )
        )
    return out


def canonicalize(document: Mapping[str, Any], loader: DocumentLoader) -> str:
    """URDNA2015 canonical N-Quads of ``document`` (DIVOC/rdf-canonize compatible).

    ``loader`` must be a :class:`~certify.credentials.contexts.DocumentLoader`;
    reuse one for many documents.  Raises :class:`CanonicalizationError`.
    """
    return canonicalize_quads(to_quads(document, loader))


def sha256_canonical(document: Mapping[str, Any], loader: DocumentLoader) -> bytes:
    """SHA-256 digest of :func:`canonicalize`'s UTF-8 output."""
    return hashlib.sha256(canonicalize(document, loader).encode("utf-8")).digest()


def canonicalize_pyld(document: Mapping[str, Any], loader: DocumentLoader) -> str:
    """Reference: ``pyld.jsonld.normalize`` with URDNA2015, unchanged.

    Differs from :func:`canonicalize` only for literals containing TAB (pyld
    escapes it, DIVOC does not) or astral-plane characters (line order).
    """
    try:
        return str(
            jsonld.normalize(
                dict(document),
                loader.pyld_options(algorithm="URDNA2015", format="application/n-quads"),
            )
        )
    except Exception as exc:
        raise CanonicalizationError(f"pyld normalize failed: {exc}") from exc
