"""Single OME-Zarr 0.4 images of every shape, type and storage variant convert
with the default options, and the output passes ``checks.check_conversion``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import build_image_2d, build_image_5d
from numcodecs import Blosc, Delta, GZip, Zlib, Zstd

import checks
from ome2024_ngff_challenge.testing import samples

BLOSC_LZ4 = Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)
BLOSC_ZSTD_BIT = Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE)


def image_2d_yx_uint8(p: Path):
    # 300x257 with chunk 128: edge chunks are partial in both dimensions
    return samples.write_image(p, samples.pattern((300, 257), "|u1", 1), "yx", levels=2, chunks=(128, 128))


def image_3d_zyx_uint16(p: Path):
    return samples.write_image(p, samples.pattern((5, 70, 61), "<u2", 3), "zyx", levels=2, chunks=(2, 32, 32))


def image_4d_czyx_uint16(p: Path):
    return samples.write_image(
        p, samples.pattern((2, 3, 50, 45), "<u2", 4), "czyx", levels=2, chunks=(1, 2, 32, 32),
        omero=samples.omero_04(["DAPI", "GFP"]),
    )


def image_5d_odd_chunks(p: Path):
    return build_image_5d(p)


def image_5d_translations_metadata_version(p: Path):
    data = samples.pattern((2, 1, 2, 40, 36), "<u2", 5)
    return samples.write_image(
        p, data, "tczyx", levels=2, chunks=(1, 1, 1, 40, 36),
        translations=[[0, 0, 0, 0, 0], [0, 0, 0, 0.5, 0.5]],
        coordinate_transformations=[{"type": "scale", "scale": [2.5, 1, 1, 1, 1]}],
        multiscales_extra={"type": "stride", "metadata": {"method": "numpy [::2]", "version": "2.x"}},
    )


def image_float32_nan_fill_missing_chunks(p: Path):
    data = samples.pattern((5, 70, 66), "<f4", 6)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-42, np.finfo(np.float32).tiny / 4, 0.0], "<f4")
    data[0, 0, : len(specials)] = specials
    # a NaN with a non-default payload must survive bit for bit
    data[0, 1, 0] = np.array([0x7FC00123], dtype="<u4").view("<f4")[0]
    data[0, 1, 1] = np.array([0xFFC00000], dtype="<u4").view("<f4")[0]  # negative NaN
    return samples.write_image(
        p, [data], "zyx", chunks=(2, 32, 32), compressor=Zstd(level=3),
        compressor_config={"id": "zstd", "level": 3}, fill_value=float("nan"),
        missing_chunks=[[(0, 1, 1), (2, 2, 2), (1, 0, 0)]],
    )


def image_float64_negative_zero_fill(p: Path):
    data = samples.pattern((40, 30), "<f8", 7)
    data[0, :4] = [-0.0, 5e-324, np.nan, -np.inf]
    return samples.write_image(p, [data], "yx", chunks=(16, 16), fill_value=-0.0, missing_chunks=[[(1, 1)]])


def image_int32_fill_minus_one_missing_chunks(p: Path):
    data = samples.pattern((2, 130, 70), "<i4", 8)
    data[0, 0, :4] = [np.iinfo(np.int32).min, np.iinfo(np.int32).max, -1, 0]
    return samples.write_image(
        p, [data], "cyx", chunks=(1, 64, 32), compressor=Zlib(level=4), fill_value=-1,
        missing_chunks=[[(0, 1, 1), (1, 2, 0), (1, 0, 2)]],
    )


def image_bool(p: Path):
    return samples.write_image(
        p, [samples.pattern((65, 67), "bool", 9)], "yx", chunks=(32, 32), compressor=GZip(level=5), fill_value=False
    )


def image_big_endian_uint16(p: Path):
    data = samples.pattern((5, 64, 80), ">u2", 10)
    return samples.write_image(
        p, data, "zyx", levels=2, chunks=(2, 30, 30), dtype=">u2", compressor=BLOSC_ZSTD_BIT
    )


def image_big_endian_float32(p: Path):
    data = samples.pattern((20, 30), ">f4", 11)
    data[0, 0] = -0.0
    return samples.write_image(p, [data], "yx", chunks=(16, 16), dtype=">f4", compressor=None)


def image_fortran_order(p: Path):
    return samples.write_image(
        p, [samples.pattern((2, 5, 70, 90), "<i2", 12)], "czyx", chunks=(1, 3, 32, 40), order="F"
    )


def image_separator_dot(p: Path):
    return samples.write_image(
        p, samples.pattern((100, 100), "<u2", 13), "yx", levels=2, chunks=(30, 30), dimension_separator="."
    )


def image_separator_slash(p: Path):
    return samples.write_image(
        p, samples.pattern((3, 100, 100), "<u2", 14), "zyx", levels=2, chunks=(1, 30, 30), dimension_separator="/"
    )


def image_separator_absent(p: Path):
    # no "dimension_separator" key: chunk keys "0.1" (the v2 default)
    return samples.write_image(
        p, samples.pattern((2, 50, 50), "<u2", 15), "cyx", levels=2, chunks=(1, 20, 20), dimension_separator=None
    )


def image_fill_null(p: Path):
    return samples.write_image(p, [samples.pattern((40, 50), "|u1", 16)], "yx", chunks=(16, 16), fill_value=None)


def image_omero_version_everywhere(p: Path):
    data = samples.pattern((3, 2, 60, 70), "<u2", 17)
    omero = samples.omero_04(["red", "green", "blue"], id=1, name="omero image")
    expected = samples.write_image(
        p, data, "czyx", levels=2, chunks=(1, 2, 32, 32), omero=omero,
        multiscales_extra={"type": "gaussian", "metadata": {"sigma": 1.0, "version": "1.2"}},
    )
    mask = samples.label_blobs((1, 2, 60, 70), 2, "|u1", 41)
    expected.update(samples.write_labels(p, {"mask": mask}, "czyx", levels=2, chunks=(1, 2, 32, 32)))
    return expected


def image_no_per_object_version(p: Path):
    # some 0.4 writers leave out multiscales[].version
    return samples.write_image(p, samples.pattern((30, 40), "<u2", 18), "yx", levels=2, chunks=(16, 16), version=None)


def image_2d_tiny(p: Path):
    return build_image_2d(p, shape=(5, 3), levels=1)


def image_uint64_max_fill(p: Path):
    data = samples.pattern((20, 30), "<u8", 21)
    data[0, :3] = [2**64 - 1, 2**63, 2**53 + 1]  # not representable as a JSON double
    return samples.write_image(p, [data], "yx", chunks=(16, 16), fill_value=2**64 - 1, missing_chunks=[[(1, 1)]])


def image_int8_min_fill(p: Path):
    return samples.write_image(
        p, [samples.pattern((20, 30), "|i1", 22)], "yx", chunks=(16, 16), fill_value=-128, missing_chunks=[[(0, 1)]]
    )


def image_float16_nan_fill(p: Path):
    data = samples.pattern((20, 30), "<f2", 23)
    data[0, :3] = [np.nan, -0.0, np.inf]
    return samples.write_image(
        p, [data], "yx", chunks=(16, 16), fill_value=float("nan"), missing_chunks=[[(1, 0)]]
    )


def image_big_endian_float64_minus_inf_fill(p: Path):
    return samples.write_image(
        p, [samples.pattern((20, 30), ">f8", 24)], "yx", chunks=(16, 16), dtype=">f8",
        fill_value=float("-inf"), missing_chunks=[[(0, 1)]],
    )


def image_bool_fortran_true_fill(p: Path):
    return samples.write_image(
        p, [samples.pattern((3, 20, 30), "bool", 25)], "zyx", chunks=(2, 16, 16), order="F", fill_value=True,
        missing_chunks=[[(1, 1, 1)]],
    )


def image_delta_filter(p: Path):
    # v2 "filters" are part of the chunk encoding: the voxels must come out decoded
    return samples.write_image(
        p, [samples.pattern((20, 30), "<u2", 26)], "yx", chunks=(16, 16), filters=[Delta(dtype="<u2")]
    )


def image_non_ome_attributes_kept(p: Path):
    return samples.write_image(
        p, [samples.pattern((20, 30), "<u2", 27)], "yx", chunks=(16, 16),
        extra_attrs={"custom": {"a": [1, 2], "ü": "µm"}},
    )


def image_many_tiny_levels(p: Path):
    # levels down to 1x1, every one smaller than the source chunk
    return samples.write_image(p, samples.pattern((64, 64), "<u2", 28), "yx", levels=7, chunks=(8, 8))


def image_nested_dataset_paths(p: Path):
    # dataset paths need not be "0", "1": here "s0" and "level/1", whose
    # parent "level" is a v2 group of its own (so it must become a v3 group)
    levels = samples.pyramid(samples.pattern((40, 30), "<u2", 29), 2)
    samples.write_v2_group(p, {"multiscales": samples.multiscales_04("yx", [[1, 1], [2, 2]], paths=["s0", "level/1"])})
    expected = {"s0": samples.write_v2_array(p / "s0", levels[0], (16, 16))}
    samples.write_v2_group(p / "level")
    expected["level/1"] = samples.write_v2_array(p / "level" / "1", levels[1], (16, 16))
    return expected


def _codec(compressor, config=None) -> Callable[[Path], dict]:
    def build(p: Path):
        return samples.write_image(
            p, [samples.pattern((3, 50, 61), "<u2", 20)], "zyx", chunks=(2, 16, 16),
            compressor=compressor, compressor_config=config,
        )

    return build


CASES: dict[str, Callable[[Path], dict]] = {
    f.__name__: f
    for f in (
        image_2d_yx_uint8,
        image_3d_zyx_uint16,
        image_4d_czyx_uint16,
        image_5d_odd_chunks,
        image_5d_translations_metadata_version,
        image_float32_nan_fill_missing_chunks,
        image_float64_negative_zero_fill,
        image_int32_fill_minus_one_missing_chunks,
        image_bool,
        image_big_endian_uint16,
        image_big_endian_float32,
        image_fortran_order,
        image_separator_dot,
        image_separator_slash,
        image_separator_absent,
        image_fill_null,
        image_omero_version_everywhere,
        image_no_per_object_version,
        image_2d_tiny,
        image_uint64_max_fill,
        image_int8_min_fill,
        image_float16_nan_fill,
        image_big_endian_float64_minus_inf_fill,
        image_bool_fortran_true_fill,
        image_delta_filter,
        image_non_ome_attributes_kept,
        image_many_tiny_levels,
        image_nested_dataset_paths,
    )
}
CASES.update({
    "codec_blosc_lz4_shuffle": _codec(BLOSC_LZ4),
    "codec_blosc_zstd_bitshuffle": _codec(BLOSC_ZSTD_BIT),
    "codec_blosc_noshuffle": _codec(Blosc(cname="zlib", clevel=1, shuffle=Blosc.NOSHUFFLE)),
    "codec_zlib": _codec(Zlib(level=4)),
    "codec_gzip": _codec(GZip(level=5)),
    "codec_zstd_classic_config": _codec(Zstd(level=3), {"id": "zstd", "level": 3}),
    "codec_zstd": _codec(Zstd(level=3)),
    "codec_zstd_checksum": _codec(Zstd(level=1, checksum=True)),
    "codec_blosc_lz4hc_blocksize": _codec(Blosc(cname="lz4hc", clevel=9, shuffle=Blosc.BITSHUFFLE, blocksize=256)),
    "codec_none": _codec(None),
})


@pytest.mark.parametrize("case", sorted(CASES))
def test_image_converts(case, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = CASES[case](src)
    run = convert("resave", src, out)
    assert run.rc == 0, str(run)
    assert "Traceback" not in run.err
    checks.check_conversion(src, out, expected=expected)


def test_special_float_values_kept_bit_for_bit(tmp_path, convert):
    """Beyond equality with the v2 reader: the exact special values written."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = image_float32_nan_fill_missing_chunks(src)
    run = convert("resave", src, out)
    assert run.rc == 0, str(run)
    got = checks.read_v3_zarr(out, "0")
    row = got[0, 0, :7]
    assert np.isnan(row[0]) and row[1] == np.inf and row[2] == -np.inf
    assert np.signbit(row[3]) and row[3] == 0  # -0.0
    assert row[4] != 0 and abs(row[4]) < np.finfo(np.float32).tiny  # denormal
    assert checks.bits(got[0, 1, :2]).tolist() == [0x7FC00123, 0xFFC00000]
    # a never-written chunk reads as NaN
    assert np.isnan(got[0, 32:64, 32:64]).all()
    meta = checks.v3_meta(out, "0")
    assert np.isnan(checks.decode_v3_fill(meta["fill_value"], np.dtype("f4")))
    checks.assert_same_voxels(expected["0"], got, "float32 output")


def test_fill_values_in_metadata(tmp_path, convert):
    cases = {
        "int32": (image_int32_fill_minus_one_missing_chunks, -1),
        "null": (image_fill_null, 0),
        "bool": (image_bool, False),
        "bool_true": (image_bool_fortran_true_fill, True),
        "uint64": (image_uint64_max_fill, 2**64 - 1),
    }
    for name, (build, want) in cases.items():
        src, out = tmp_path / f"{name}.zarr", tmp_path / f"{name}.out.zarr"
        build(src)
        run = convert("resave", src, out)
        assert run.rc == 0, str(run)
        fill = checks.v3_meta(out, "0")["fill_value"]
        assert fill == want and type(fill) is type(want), f"{name}: fill_value {fill!r} != {want!r}"


def test_example_dataset_converts(tmp_path, convert):
    """The README's example (samples.write_example) converts and validates."""
    src, out = tmp_path / "example.zarr", tmp_path / "example.out.zarr"
    samples.write_example(src)
    run = convert("resave", src, out, "--cc-by")
    assert run.rc == 0, str(run)
    report = checks.check_conversion(src, out)
    assert set(report.arrays) == {"0", "1", "2", "labels/nuclei/0", "labels/nuclei/1", "labels/nuclei/2"}


def test_readme_commands_run_twice(tmp_path, convert):
    """The README's first command, run a second time on the same machine: the
    example is made again and the earlier output (which holds the example's
    mark file, copied as an unreferenced file) is replaced."""
    src, out = tmp_path / "example.zarr", tmp_path / "example-0.5.zarr"
    for _ in range(2):
        run = convert("example", src, "--output-overwrite")
        assert run.rc == 0, str(run)
        run = convert("resave", "--cc-by", "--rocrate-organism=NCBI:txid9606",
                      "--rocrate-modality=obo:FBbi_00000369", "--output-overwrite", src, out)
        assert run.rc == 0, str(run)
        checks.check_conversion(src, out)
    # an output that is an OME-Zarr 0.5 group with other files is replaced only when asked
    (out / "notes.txt").write_text("kept\n")
    run = convert("resave", "--cc-by", src, out)
    assert run.rc != 0 and (out / "notes.txt").exists()
    checks.assert_one_line_error(run.err, str(out), "--output-overwrite")
