import json

import checks
from rocrate.rocrate import ROCrate

from ome2024_ngff_challenge.ome.rocrate import (
    LICENSES,
    CrateInfo,
    build_crate,
    read_crate_info,
    update_crate_info,
    validate_license,
    validate_modality,
    validate_organism,
)

FULL = CrateInfo(
    name="idr0062.zarr",
    description="Blastocysts",
    license=LICENSES["cc-by"],
    organism="NCBI:txid9606",
    modality="obo:FBbi_00000369",
)


def entities(crate):
    return {entity["@id"]: entity for entity in crate["@graph"]}


def test_full_crate_shape():
    graph = entities(build_crate(FULL))
    root = graph["./"]
    assert graph["ro-crate-metadata.json"]["about"] == {"@id": "./"}
    assert root["@type"] == "Dataset"
    assert root["name"] == "idr0062.zarr"
    assert root["description"] == "Blastocysts"
    assert root["license"] == {"@id": "https://creativecommons.org/licenses/by/4.0/"}
    assert root["resultOf"] == {"@id": "#image-acquisition"}
    assert graph["#image-acquisition"] == {
        "@id": "#image-acquisition",
        "@type": "image_acquisition",
        "fbbi_id": {"@id": "obo:FBbi_00000369"},
        "specimen": {"@id": "#specimen"},
    }
    assert graph["#specimen"] == {"@id": "#specimen", "@type": "specimen", "biosample": {"@id": "#biosample"}}
    assert graph["#biosample"] == {
        "@id": "#biosample",
        "@type": "biosample",
        "organism_classification": {"@id": "NCBI:txid9606"},
    }


def test_round_trip():
    assert read_crate_info(build_crate(FULL)) == FULL
    assert FULL.missing() == []


def test_modality_only_keeps_fbbi_id():
    info = CrateInfo(name="x", modality="obo:FBbi_00000243")
    graph = entities(build_crate(info))
    assert graph["#image-acquisition"]["fbbi_id"] == {"@id": "obo:FBbi_00000243"}
    assert "specimen" not in graph["#image-acquisition"]
    assert "#specimen" not in graph and "#biosample" not in graph
    assert read_crate_info(build_crate(info)) == info
    assert info.missing() == ["license", "organism"]


def test_organism_only_kept():
    info = CrateInfo(name="x", organism="NCBI:txid10090")
    graph = entities(build_crate(info))
    assert "fbbi_id" not in graph["#image-acquisition"]
    assert graph["#biosample"]["organism_classification"] == {"@id": "NCBI:txid10090"}
    assert read_crate_info(build_crate(info)) == info


def test_empty_info():
    graph = entities(build_crate(CrateInfo()))
    assert set(graph) == {"./", "ro-crate-metadata.json"}
    assert "resultOf" not in graph["./"] and "license" not in graph["./"]
    assert read_crate_info(build_crate(CrateInfo())) == CrateInfo()
    assert CrateInfo().missing() == ["license", "organism", "modality"]


def test_loadable_by_rocrate(tmp_path):
    crate = build_crate(FULL)
    (tmp_path / "ro-crate-metadata.json").write_text(json.dumps(crate, ensure_ascii=False), encoding="utf-8")
    loaded = ROCrate(tmp_path)
    assert loaded.root_dataset["name"] == "idr0062.zarr"
    acquisition = loaded.get("#image-acquisition")
    assert acquisition is not None and acquisition.type == "image_acquisition"
    assert loaded.get("#biosample")["organism_classification"] == "NCBI:txid9606"
    # ro-crate-py writes it back out with the same content
    assert read_crate_info(loaded.metadata.generate()) == FULL


def test_read_tolerates_missing_parts():
    assert read_crate_info({}) == CrateInfo()
    assert read_crate_info({"@graph": "nonsense"}) == CrateInfo()
    dangling = {"@graph": [{"@id": "./", "@type": "Dataset", "name": "n", "resultOf": {"@id": "#gone"}}]}
    assert read_crate_info(dangling) == CrateInfo(name="n")
    # root found through the metadata descriptor, resultOf given as a list
    other_root = {
        "@graph": [
            {"@id": "ro-crate-metadata.json", "about": {"@id": "https://example.org/x/"}},
            {"@id": "https://example.org/x/", "license": "https://l/", "resultOf": [{"@id": "#a"}]},
            {"@id": "#a", "fbbi_id": {"@id": "FBbi:00000369"}},
        ]
    }
    assert read_crate_info(other_root) == CrateInfo(license="https://l/", modality="FBbi:00000369")


def test_update_crate_info():
    old = CrateInfo(name="a", license=LICENSES["cc0"])
    new = update_crate_info(old, organism="NCBI:txid9606", name=None)
    assert new == CrateInfo(name="a", license=LICENSES["cc0"], organism="NCBI:txid9606")
    assert old == CrateInfo(name="a", license=LICENSES["cc0"])


def test_validate_license():
    assert validate_license(" https://creativecommons.org/licenses/by/4.0/ ") == LICENSES["cc-by"]
    assert validate_license("CC0") == LICENSES["cc0"]
    for bad in ("", "CC-BY-4.0", "ftp://x/y", "https://"):
        assert checks.cli_error(lambda: validate_license(bad)).startswith("--rocrate-license: ")


def test_validate_organism():
    assert validate_organism("NCBI:txid9606") == "NCBI:txid9606"
    assert validate_organism(" ncbi:TXID9606\n") == "NCBI:txid9606"
    assert validate_organism("NCBITaxon:10090") == "NCBITaxon:10090"
    assert validate_organism("http://purl.obolibrary.org/obo/NCBITaxon_9606") == (
        "http://purl.obolibrary.org/obo/NCBITaxon_9606"
    )
    for bad in ("", "human", "NCBI:9606", "txid9606", "NCBI:txid96a"):
        assert checks.cli_error(lambda: validate_organism(bad)).startswith("--rocrate-organism: ")


def test_validate_modality():
    assert validate_modality("obo:FBbi_00000369") == "obo:FBbi_00000369"
    assert validate_modality(" OBO:fbbi_00000369 ") == "obo:FBbi_00000369"
    assert validate_modality("FBbi:00000369") == "FBbi:00000369"
    assert validate_modality("https://purl.obolibrary.org/obo/FBbi_00000369") == (
        "https://purl.obolibrary.org/obo/FBbi_00000369"
    )
    for bad in ("", "confocal", "obo:FBbi_369", "FBbi_00000369"):
        assert checks.cli_error(lambda: validate_modality(bad)).startswith("--rocrate-modality: ")
