"""Compare each reproduction in tests/realworld_survey_writers.py with the real library's output:
the same file set (every chunk key, every metadata file) and byte-identical metadata files."""
import json, os, sys, tempfile
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
import realworld_survey_writers as sw

OUT = os.environ.get("SURVEY_OUT", "/work/venvs/survey-out")
PAIRS = {  # real output -> reproduction
    "aicsimageio.ome.zarr": sw.write_aicsimageio_like,
    "pydantic_ome_ngff.ome.zarr": sw.write_pydantic_ome_ngff_like,
    "xarray_ome_ngff.ome.zarr": sw.write_xarray_ome_ngff_like,
    "ome_zarr_models.ome.zarr": sw.write_ome_zarr_models_like,
    "ngff_zarr08.ome.zarr": sw.write_ngff_zarr_08_like,
    "acquire.ome.zarr": sw.write_acquire_zarr_like,
    "stack_to_chunk.ome.zarr": sw.write_stack_to_chunk_like,
    "tiledb_bioimg.ome.zarr": sw.write_tiledb_bioimg_like,
    "zarrify.ome.zarr": sw.write_zarrify_like,
    "msi.ome.zarr": sw.write_multiscale_spatial_image_like,
    "msi2.ome.zarr": lambda p: sw.write_multiscale_spatial_image_like(p, "2"),
    "mrc2omezarr.ome.zarr": sw.write_mrc2omezarr_like,
    "iohub01.ome.zarr": sw.write_iohub_01_like,
    "ngio01.ome.zarr": sw.write_ngio_01_like,
    "bfio.ome.zarr": sw.write_bfio_like,
    "spatialdata02.zarr": lambda p: sw.write_spatialdata_like(p, "0.2"),
    "spatialdata04.zarr": lambda p: sw.write_spatialdata_like(p, "0.4"),
    "webknossos.zarr": sw.write_webknossos_like,
}
META = {".zattrs", ".zgroup", ".zarray", ".zmetadata", "zmetadata"}


def files(root):
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


bad = 0
for real, fn in PAIRS.items():
    with tempfile.TemporaryDirectory() as t:
        rep = os.path.join(t, real)
        fn(rep)
        a, b = files(os.path.join(OUT, real)), files(rep)
        probs = []
        if a != b:
            probs.append(f"only real: {sorted(a - b)[:6]} only replica: {sorted(b - a)[:6]}")
        for rel in sorted(a & b):
            if os.path.basename(rel) in META or rel.endswith(".json"):
                x = open(os.path.join(OUT, real, rel), "rb").read()
                y = open(os.path.join(rep, rel), "rb").read()
                if x != y:
                    probs.append(f"{rel} differs:\n    real    {x[:3000]!r}\n    replica {y[:3000]!r}" if "-v" in sys.argv
                                 else f"{rel} differs")
        bad += bool(probs)
        print(f"{real}: {'IDENTICAL (file set and metadata bytes)' if not probs else ''}")
        for p in probs[:12]:
            print("   ", p)
sys.exit(1 if bad else 0)
