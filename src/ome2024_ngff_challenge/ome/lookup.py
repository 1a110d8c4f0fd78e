"""Find the ontology terms the RO-Crate's organism (NCBI taxonomy) and
modality (FBbi) take, by name, synonym or id.

Two sources, both always consulted:

* online, the EBI Ontology Lookup Service search API (OLS4) with a short
  timeout (another server: ``ols_url`` or ``$OME2024_OLS_URL``). When it
  fails, the caller is told why and the shipped table's results still come;
* the small table shipped with the package (``ontology_terms``), so that the
  search works offline.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from ..about import TOOL_NAME, __version__
from ..errors import UserError, option
from .ontology_terms import FBBI, NCBITAXON, TERMS, Term

DEFAULT_OLS_URL = "https://www.ebi.ac.uk/ols4/api/search"
OLS_ENV = "OME2024_OLS_URL"
ROWS = 20
MAX_RESPONSE = 8 * 2**20


@dataclass
class Hit:
    ontology: str
    term: str  # as --rocrate-organism / --rocrate-modality take it
    label: str
    description: str
    source: str  # "ols" or "table"


def option_id(obo_id: str) -> tuple[str, str] | None:
    """(ontology, option form) of an OLS ``obo_id``: NCBITaxon:10090 ->
    ("ncbitaxon", "NCBI:txid10090"), FBbi:00000369 -> ("fbbi", "obo:FBbi_00000369")."""
    if m := re.fullmatch(r"NCBITaxon[:_](\d+)", obo_id.strip(), re.IGNORECASE):
        return NCBITAXON, f"NCBI:txid{m.group(1)}"
    if m := re.fullmatch(r"FBbi[:_](\d+)", obo_id.strip(), re.IGNORECASE):
        return FBBI, f"obo:FBbi_{m.group(1)}"
    return None


# ---------------------------------------------------------------------------
# the shipped table
# ---------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-z]+", text.lower()) if w]


def _id_forms(term: Term) -> set[str]:
    n = term.number
    forms = {term.option_id, term.obo_id, n, n.lstrip("0")}
    if term.ontology == NCBITAXON:
        forms |= {f"txid{n}", f"NCBITaxon_{n}", f"obo:NCBITaxon_{n}"}
    else:
        forms |= {f"FBbi_{n}", f"FBbi:{n}", f"obo:FBbi:{n}"}
    return {f.lower() for f in forms}


def search_table(text: str, ontologies: tuple[str, ...]) -> list[Hit]:
    """Terms of the shipped table matching ``text``: an id in any usual form,
    or every word of ``text`` found (as a word prefix) in the label, the
    description or a keyword. Best matches first."""
    query = text.strip().lower()
    qwords = _words(query)
    scored = []
    for index, term in enumerate(TERMS):
        if term.ontology not in ontologies:
            continue
        names = [term.label, *term.synonyms]
        if query in _id_forms(term):
            score = 0
        elif any(query == name.lower() for name in names):
            score = 1
        elif qwords and all(any(w.startswith(q) for w in _words(" ".join(names))) for q in qwords):
            score = 2
        elif qwords and all(any(w.startswith(q) for w in _words(term.description)) for q in qwords):
            score = 3
        else:
            continue
        scored.append((score, index, term))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [Hit(t.ontology, t.option_id, t.label, t.description, "table") for _, _, t in scored]


# ---------------------------------------------------------------------------
# EBI OLS
# ---------------------------------------------------------------------------


class OnlineSearchError(Exception):
    pass


def search_ols(text: str, ontologies: tuple[str, ...], url: str, timeout: float) -> list[Hit]:
    params = urllib.parse.urlencode({"q": text, "ontology": ",".join(ontologies), "rows": ROWS})
    full = f"{url}{'&' if '?' in url else '?'}{params}"
    request = urllib.request.Request(full, headers={"Accept": "application/json",
                                                    "User-Agent": f"{TOOL_NAME}/{__version__}"})
    host = urllib.parse.urlsplit(full).hostname or ""
    # a server on this machine (a mirror, a test stub) is never reached through a proxy
    handlers = [urllib.request.ProxyHandler({})] if host in ("localhost", "127.0.0.1", "::1") else []
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as e:
        raise OnlineSearchError(f"HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise OnlineSearchError(str(reason) or type(e).__name__) from None
    if len(body) > MAX_RESPONSE:
        raise OnlineSearchError("response too large")
    try:
        docs = json.loads(body.decode("utf-8"))["response"]["docs"]
        if not isinstance(docs, list):
            raise TypeError
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise OnlineSearchError("the answer is not an OLS search response") from None
    hits: list[Hit] = []
    seen = set()
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("is_obsolete") is True:
            continue
        converted = option_id(str(doc.get("obo_id") or doc.get("short_form") or ""))
        if converted is None or converted[0] not in ontologies or converted[1] in seen:
            continue
        seen.add(converted[1])
        description = doc.get("description") or ""
        if isinstance(description, list):
            description = " ".join(str(d) for d in description)
        hits.append(Hit(converted[0], converted[1], str(doc.get("label") or ""), " ".join(str(description).split()), "ols"))
    return hits


def ols_url(url: str | None = None) -> str:
    """The OLS search API to ask: ``url``, else $OME2024_OLS_URL, else the EBI's."""
    url = url or os.environ.get(OLS_ENV) or DEFAULT_OLS_URL
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        msg = f"{option('ols_url')}: {url!r} is not an http(s) URL"
        raise UserError(msg)
    return url


def lookup(text: str, ontologies: tuple[str, ...], *, online: bool, url: str, timeout: float) -> tuple[list[Hit], str | None]:
    """(hits, why the online search failed or None): the OLS hits first, then
    the table's hits that OLS did not return."""
    failure = None
    hits: list[Hit] = []
    if online:
        try:
            hits = search_ols(text, ontologies, url, timeout)
        except OnlineSearchError as e:
            failure = str(e)
    known = {h.term for h in hits}
    hits += [h for h in search_table(text, ontologies) if h.term not in known]
    return hits, failure
