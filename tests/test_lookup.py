"""`lookup`: the shipped table offline, and the OLS search against a local stub
server (these tests never reach the network)."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.parse
from contextlib import redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ome2024_ngff_challenge.commands.main import main
from ome2024_ngff_challenge.ome.lookup import option_id, search_table
from ome2024_ngff_challenge.ome.ontology_terms import TERMS
from ome2024_ngff_challenge.ome.rocrate import validate_modality, validate_organism

DEAD_URL = "http://127.0.0.1:9/ols4/api/search"  # nothing listens on port 9 (discard)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Whatever a test forgets, the default OLS address is a dead local one."""
    monkeypatch.setenv("OME2024_OLS_URL", DEAD_URL)


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["lookup", *map(str, argv)])
    return rc, out.getvalue(), err.getvalue()


def run_json(*argv) -> tuple[int, list[dict], str]:
    rc, out, err = run(*argv, "--json")
    return rc, json.loads(out), err


OLS_DOCS = [
    {"obo_id": "NCBITaxon:10090", "label": "Mus musculus", "description": [], "ontology_name": "ncbitaxon"},
    {"obo_id": "NCBITaxon:10088", "label": "Mus <mouse, genus>", "ontology_name": "ncbitaxon"},
    {"obo_id": "FBbi:00000369", "label": "light sheet fluorescence microscopy",
     "description": ["A fluorescence microscopy method", "with a light sheet."], "ontology_name": "fbbi"},
    {"obo_id": "UBERON:0000955", "label": "brain", "ontology_name": "uberon"},
    {"obo_id": "FBbi:00000999", "label": "an obsolete term", "is_obsolete": True, "ontology_name": "fbbi"},
]


class StubOLS:
    """A local stand-in for the OLS search API."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.body: bytes = json.dumps({"response": {"numFound": len(OLS_DOCS), "docs": OLS_DOCS}}).encode()
        self.delay = 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                stub.requests.append(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)))
                if stub.delay:
                    time.sleep(stub.delay)
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                try:
                    self.wfile.write(stub.body)
                except OSError:  # the client gave up (timeout tests)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ols4/api/search"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ols():
    stub = StubOLS()
    yield stub
    stub.close()


# ---------------------------------------------------------------------------
# offline: the shipped table
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term"),
    [("mouse", "NCBI:txid10090"), ("Homo sapiens", "NCBI:txid9606"), ("zebrafish", "NCBI:txid7955"),
     ("fruit fly", "NCBI:txid7227"), ("C. elegans", "NCBI:txid6239"), ("9606", "NCBI:txid9606"),
     ("NCBITaxon:4896", "NCBI:txid4896"), ("light sheet", "obo:FBbi_00000369"), ("SPIM", "obo:FBbi_00000369"),
     ("confocal", "obo:FBbi_00000251"), ("TIRF", "obo:FBbi_00000617"), ("FBbi:00000246", "obo:FBbi_00000246"),
     ("electron micro", "obo:FBbi_00000256")],
)
def test_offline_finds_the_term_first(text, term):
    rc, hits, err = run_json(text, "--offline")
    assert rc == 0 and err == ""
    assert hits[0]["term"] == term and hits[0]["source"] == "table"


def test_offline_table_output():
    rc, out, err = run("mouse", "--offline")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["ONTOLOGY", "TERM", "LABEL", "DESCRIPTION"]
    assert lines[1].split()[:4] == ["NCBITaxon", "NCBI:txid10090", "Mus", "musculus"]


def test_ontology_filter():
    rc, hits, _ = run_json("microscopy", "--offline", "--ontology", "fbbi")
    assert rc == 0 and hits and {h["ontology"] for h in hits} == {"fbbi"}
    rc, hits, _ = run_json("microscopy", "--offline", "--ontology", "ncbitaxon")
    assert rc == 1 and hits == []


def test_nothing_found():
    rc, out, err = run("no such organism anywhere", "--offline")
    assert rc == 1 and out == "" and "no NCBI taxonomy or FBbi term found" in err


def test_shipped_table_is_usable_by_the_options():
    ids = [t.option_id for t in TERMS]
    assert len(ids) == len(set(ids))
    for term in TERMS:
        check = validate_organism if term.ontology == "ncbitaxon" else validate_modality
        assert check(term.option_id) == term.option_id
    labels = {t.option_id: t.label for t in TERMS}
    for number, label in [(9606, "Homo sapiens"), (10090, "Mus musculus"), (10116, "Rattus norvegicus"),
                          (7955, "Danio rerio"), (7227, "Drosophila melanogaster"), (6239, "Caenorhabditis elegans"),
                          (3702, "Arabidopsis thaliana"), (4932, "Saccharomyces cerevisiae"),
                          (4896, "Schizosaccharomyces pombe"), (562, "Escherichia coli"), (8355, "Xenopus laevis"),
                          (9031, "Gallus gallus")]:
        assert labels[f"NCBI:txid{number}"] == label
    assert labels["obo:FBbi_00000246"] == "fluorescence microscopy"
    assert labels["obo:FBbi_00000251"] == "confocal microscopy"


def test_search_table_ranks_exact_names_first():
    hits = search_table("yeast", ("ncbitaxon",))
    assert {h.term for h in hits} >= {"NCBI:txid4932", "NCBI:txid4896"}


@pytest.mark.parametrize(
    ("obo", "expected"),
    [("NCBITaxon:10090", ("ncbitaxon", "NCBI:txid10090")), ("NCBITaxon_9606", ("ncbitaxon", "NCBI:txid9606")),
     ("FBbi:00000369", ("fbbi", "obo:FBbi_00000369")), ("FBbi_00000243", ("fbbi", "obo:FBbi_00000243")),
     ("UBERON:0000955", None), ("", None)],
)
def test_option_id(obo, expected):
    assert option_id(obo) == expected


# ---------------------------------------------------------------------------
# online: a local stub of the OLS search API
# ---------------------------------------------------------------------------


def test_online_results_converted_and_merged(ols):
    rc, hits, err = run_json("fish", "--ols-url", ols.url)
    assert rc == 0 and err == ""
    assert ols.requests == [{"q": "fish", "ontology": "ncbitaxon,fbbi", "rows": "20"}]
    online = [h for h in hits if h["source"] == "ols"]
    assert [h["term"] for h in online] == ["NCBI:txid10090", "NCBI:txid10088", "obo:FBbi_00000369"]
    assert online[2]["description"] == "A fluorescence microscopy method with a light sheet."
    assert online[2]["label"] == "light sheet fluorescence microscopy"
    # the table adds what OLS did not return, never a second copy of a term
    terms = [h["term"] for h in hits]
    assert len(terms) == len(set(terms))
    assert terms[3:] == ["NCBI:txid7955"]  # zebrafish ("zebra fish"), from the table


def test_online_ontology_filter_is_sent_and_applied(ols):
    rc, hits, _ = run_json("light sheet", "--ols-url", ols.url, "--ontology", "fbbi")
    assert rc == 0
    assert ols.requests[0]["ontology"] == "fbbi" and ols.requests[0]["q"] == "light sheet"
    assert {h["ontology"] for h in hits} == {"fbbi"}


def test_environment_variable_points_the_search(ols, monkeypatch):
    monkeypatch.setenv("OME2024_OLS_URL", ols.url)
    rc, hits, _ = run_json("mouse")
    assert rc == 0 and len(ols.requests) == 1 and hits[0]["source"] == "ols"


def test_offline_asks_nobody(ols):
    rc, _, _ = run_json("mouse", "--offline", "--ols-url", ols.url)
    assert rc == 0 and ols.requests == []


@pytest.mark.parametrize("problem", ["status", "body", "refused"])
def test_online_failure_falls_back_to_the_table(ols, problem):
    url = ols.url
    if problem == "status":
        ols.status = 500
    elif problem == "body":
        ols.body = b"<html>maintenance</html>"
    else:
        url = DEAD_URL
    rc, out, err = run("zebrafish", "--ols-url", url)
    assert rc == 0
    assert len(err.strip().splitlines()) == 1 and err.startswith("warning: online search") and "failed" in err
    assert "NCBI:txid7955" in out


def test_online_timeout_is_short(ols):
    ols.delay = 2.0
    start = time.monotonic()
    rc, out, err = run("zebrafish", "--ols-url", ols.url, "--timeout", "0.2")
    assert time.monotonic() - start < 1.5
    assert rc == 0 and "failed" in err and "NCBI:txid7955" in out


def test_bad_ols_url_is_a_usage_error():
    rc, _, err = run("mouse", "--ols-url", "ftp://example.org/x")
    assert rc == 1 and "--ols-url" in err


@pytest.mark.parametrize("command", ["lookup", "validate", "update"])
def test_help_has_examples(command):
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main([command, "--help"])
    assert rc == 0 and "examples:" in out.getvalue() and f"ome2024-ngff-challenge {command}" in out.getvalue()
