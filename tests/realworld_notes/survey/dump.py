"""Dump an on-disk Zarr v2 hierarchy: tree (chunk files counted per array), every metadata file verbatim."""
import os, sys, json
root = sys.argv[1]
meta, chunks, other = [], {}, []
for d, dirs, files in os.walk(root):
    dirs.sort()
    for f in sorted(files):
        rel = os.path.relpath(os.path.join(d, f), root)
        if f in (".zattrs", ".zgroup", ".zarray", ".zmetadata", "zarr.json"):
            meta.append(rel)
        else:
            # chunk of the nearest array above
            a = d
            while a.startswith(root) and not os.path.exists(os.path.join(a, ".zarray")):
                a = os.path.dirname(a)
            if os.path.exists(os.path.join(a, ".zarray")):
                chunks.setdefault(os.path.relpath(a, root), []).append(os.path.relpath(os.path.join(d, f), a))
            else:
                other.append(rel)
print("# metadata files:", *meta, sep="\n  ")
print("# chunk files per array:")
for a, c in sorted(chunks.items()):
    print(f"  {a}: {len(c)} e.g. {c[:3]}")
print("# other files:", *other, sep="\n  ")
for rel in meta:
    raw = open(os.path.join(root, rel), "rb").read()
    nl = raw.endswith(b"\n")
    print(f"\n## {rel} ({len(raw)} bytes, ends with newline: {nl})")
    print(raw.decode()[:3000])
