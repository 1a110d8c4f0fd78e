"""Check converted outputs (v3) with ngff-zarr (its reader, and its bundled official 0.5 JSON schemas,
plain and strict) and zarrita.js-independent readers: run in a venv with ngff-zarr[validate] 0.50.
usage: check_outputs.py OUTPUT.zarr...  -> one line per output."""
import json, os, sys
import ngff_zarr as nz
from ngff_zarr.validate import validate

MODELS = {"multiscales": "image", "plate": "plate", "well": "well"}
for out in sys.argv[1:]:
    problems, strict_notes, checked = [], [], 0
    for d, _, fs in os.walk(out):
        if "zarr.json" not in fs:
            continue
        meta = json.load(open(os.path.join(d, "zarr.json")))
        ome = meta.get("attributes", {}).get("ome")
        if meta.get("node_type") != "group" or not isinstance(ome, dict):
            continue
        model = "label" if "image-label" in ome else next((m for k, m in MODELS.items() if k in ome), None)
        if model is None:
            continue
        from jsonschema import Draft202012Validator
        from ngff_zarr.validate import load_schema, _schema_registry
        for strict in (False, True):
            v = Draft202012Validator(load_schema(version="0.5", model=model, strict=strict), registry=_schema_registry("0.5"))
            for e in v.iter_errors(meta["attributes"]):
                where = "/".join(str(p) for p in e.absolute_path)
                (strict_notes if strict else problems).append(
                    f"{os.path.relpath(d, out)} {model}{' strict' if strict else ''} at {where}: {e.message[:120]}")
        checked += 1
        if model in ("image", "label"):
            try:
                ms = nz.from_ngff_zarr(d, validate=True)
                n = len(ms.images)
            except Exception as e:  # noqa: BLE001
                problems.append(f"{os.path.relpath(d, out)} ngff-zarr read: {type(e).__name__}: {str(e)[:160]}")
    strict = sorted({n.split(": ", 1)[1] for n in strict_notes})
    print(f"{os.path.basename(out)}: {checked} OME groups; " + ("schemas + ngff-zarr read OK" if not problems else "; ".join(problems[:4]))
          + (f" | strict only: {strict}" if strict else ""))
