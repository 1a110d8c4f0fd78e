"""The Python API: everything the command line does, for pipelines and notebooks.

    import ome2024_ngff_challenge as ngff

    plan = ngff.resave("in.zarr", "out.zarr", license="cc-by", organism="NCBI:txid9606",
                       modality="obo:FBbi_00000369")
    report = ngff.validate("out.zarr", against="in.zarr")
    assert report.valid, report.errors

``catalog`` lists converted datasets with what their conversion cost;
``serve`` serves a folder of them over HTTP to web viewers.

Locations are local paths, ``s3://bucket/prefix`` or ``https://`` URLs (input
only), or ``Store`` objects; ``S3Options`` give the endpoint, region and
anonymous access of a bucket. A local folder is read only inside it: a link
that leads out of it is refused unless ``follow_links=True``; link loops and
files that are not regular files are always refused, and nothing is written or
deleted through a link that leads out of a dataset. Every problem is raised as a ``UserError``
(``InputError``, ``OutputError``) whose message names the path and what is
wrong; the command line is a thin layer that turns them into one line and an
exit status.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from . import inventory as _inventory
from .inventory import Catalog
from .inventory.discover import find_datasets
from .hosting import Server
from .hosting.check import check_hosting
from .convert import collection as _collection
from .convert import in_place as _in_place
from .convert import resave as _resave
from .convert import upgrade_v06 as _upgrade
from .convert.layout import parse_shape
from .convert.levels import parse_add_levels
from .convert.resave import OUTPUT_VERSIONS
from .convert.output import OutputSettings, check_finished
from .convert.plan import LayoutRequest, Plan
from .errors import DISK_FULL, DiskFullError, OutputError, UserError, option
from .json_values import MAX_DEPTH, too_deep
from .convert.progress import CollectionProgress
from .executors.base import Executor, TaskExecutor
from .executors.collection import CollectionRunner, Ended, Skipped
from .executors.in_place import InPlaceExecutor
from .executors.threads import ThreadExecutor
from .ome import lookup as _lookup
from .ome.crate_file import update as _update_crate
from .ome.rocrate import METADATA_ID as CRATE_NAME
from .ome.rocrate import CrateInfo, crate_fields
from .stores.base import Store
from .stores.inside import DATASET_FILES, check_report_path
from .stores.local import LocalStore
from .stores.open import S3Options, is_remote, open_store, read_location
from .stores.remote import run_deadline
from .convert.verify import compare_with_source
from .validation import Report
from .validation import validate as _validate
from .zarr.codecs import DEFAULT_COMPRESSION, Compression, parse_compression

Location = str | os.PathLike | Store
LOG = logging.getLogger("ome2024_ngff_challenge")
DEFAULT_AHEAD = 4  # datasets of a collection planned ahead of the running ones
Shape = tuple[int, ...] | list[int] | str


def open_location(location: Location, *, role: str = "input", s3: S3Options | None = None,
                  follow_links: bool = False) -> Store:
    """The store for a path, URL or Store (``role``: "input" or "output";
    ``follow_links``: a local folder's links that lead out of it are read)."""
    if isinstance(location, Store):
        return location
    return open_store(os.fspath(location), role=role, follow_links=follow_links,
                      **(s3 or S3Options()).as_kwargs())


def _shape(value: Shape | None, name: str, *, allow_none: bool = False):
    if value is None or isinstance(value, str):
        return parse_shape(value, name, allow_none=allow_none)
    return parse_shape(",".join(str(v) for v in value), name)


def _compression(codec: str | Compression | None) -> Compression:
    if codec is None:
        return DEFAULT_COMPRESSION
    return codec if isinstance(codec, Compression) else parse_compression(codec)


def read_details(details, *, s3: S3Options | None = None) -> list | dict | None:
    """A details file's content: given as parsed JSON, or as a path or URL."""
    if details is None or isinstance(details, (list, dict)):
        return details
    where = os.fspath(details)
    try:
        raw = read_location(where, role="output", **{**(s3 or S3Options()).as_kwargs(), "bucket": None})
        doc = json.loads(raw.decode("utf-8"))
        if too_deep(doc):
            raise RecursionError
        return doc
    except RecursionError:
        msg = f"{option('details')}: {where}: not valid JSON (nested more than {MAX_DEPTH} levels deep)"
        raise UserError(msg) from None
    except UserError as e:
        msg = f"{option('details')}: {e}"
        raise UserError(msg) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = f"{option('details')}: {where}: not valid JSON ({e})"
        raise UserError(msg) from None


def layout_request(*, chunks: Shape | None = None, shards: Shape | None = None, details=None,
                   s3: S3Options | None = None) -> LayoutRequest:
    """What was asked of the output layout (each part optional); ``shards``
    may be "none" for unsharded arrays."""
    return LayoutRequest(
        chunks=_shape(chunks, "chunks"),
        shards=_shape(shards, "shards", allow_none=True),
        details=read_details(details, s3=s3),
    )


def crate_info(output: Store | str, *, license: str | None = None, organism: str | None = None,
               modality: str | None = None, name: str | None = None, description: str | None = None) -> CrateInfo:
    """The RO-Crate of a new output; its name defaults to the output folder's name."""
    fields = crate_fields(license=license, organism=organism, modality=modality,
                          name=name, description=description)
    if "name" not in fields:
        where = output.describe() if isinstance(output, Store) else str(output)
        fields["name"] = os.path.basename(os.path.normpath(where.rstrip("/")))
    return CrateInfo(**fields)


def resave(
    input: Location,
    output: Location,
    *,
    chunks: Shape | None = None,
    shards: Shape | None = None,
    codec: str | Compression | None = None,
    details=None,
    overwrite: bool = False,
    threads: int | None = None,
    executor: Executor | None = None,
    license: str | None = None,
    organism: str | None = None,
    modality: str | None = None,
    name: str | None = None,
    description: str | None = None,
    crate: bool = True,
    notes: str | None = None,
    progress: bool = False,
    repair: bool = True,
    verify: bool = False,
    add_levels: int | bool | str | None = None,
    output_version: str = "0.5",
    input_s3: S3Options | None = None,
    output_s3: S3Options | None = None,
    follow_links: bool = False,
) -> Plan:
    """Convert an OME-Zarr 0.4 dataset to OME-Zarr 0.5 (``output_version="0.6"``:
    0.6); returns the plan it ran.

    ``chunks``/``shards``: shapes (or "1,1,256,256"; shards "none": unsharded),
    default automatic; ``codec``: "blosc-zstd-5" (default), "zstd-3", "gzip",
    "none" or "keep" (byte copy); ``details``: a details file's content or path;
    ``executor``: how to run it (default: ``ThreadExecutor(threads)``; also
    ``DaskExecutor(address)``, ``JobScriptExecutor``, ``ZarrsScriptExecutor``);
    ``license`` ("cc-by", "cc0" or a URL), ``organism``, ``modality``, ``name``,
    ``description``: the RO-Crate (``crate=False`` writes none); ``repair``:
    mend the known defects of real writers (identity transforms, misplaced
    label lists ...: each logged and recorded in the statistics), or with
    ``repair=False`` refuse such input. Every group, array and file below the
    input's root is converted or copied. An unfinished output of the same plan
    is resumed. With ``codec="keep", shards="none"`` the chunks are hard-linked
    (one file system) or copied by the server (one S3 bucket) without being
    read; ``verify=True`` decodes each one first, as every other byte copy does.
    ``add_levels``: SIZE (``True``: 256): 2x-downsampled levels added below each
    image's smallest until its y and x are at most SIZE (labels: as many as
    their image), computed from the smallest level (mean; labels: the most
    frequent value). ``follow_links``: read the files and folders a local
    input's links lead to outside it (refused by default).
    """
    size = parse_add_levels(add_levels)
    src = open_location(input, role="input", s3=input_s3, follow_links=follow_links)
    out = open_location(output, role="output", s3=output_s3)
    layout = layout_request(chunks=chunks, shards=shards, details=details, s3=output_s3 or input_s3)
    settings = OutputSettings(
        overwrite=overwrite,
        notes=notes,
        crate=crate_info(out if isinstance(output, Store) else os.fspath(output), license=license,
                         organism=organism, modality=modality, name=name, description=description)
        if crate else None,
        progress=progress,
    )
    if executor is None:
        executor = ThreadExecutor(threads)
    return _resave.resave(src, out, executor, layout=layout, compression=_compression(codec), settings=settings,
                          repair=repair, verify=verify, add_levels=size, output_version=output_version)


def resave_in_place(
    input: Location,
    *,
    overwrite: bool = False,
    verify: bool = False,
    threads: int | None = None,
    license: str | None = None,
    organism: str | None = None,
    modality: str | None = None,
    name: str | None = None,
    description: str | None = None,
    crate: bool = True,
    notes: str | None = None,
    progress: bool = False,
    repair: bool = True,
    output_version: str = "0.5",
    input_s3: S3Options | None = None,
    follow_links: bool = False,
) -> Plan:
    """Add the OME-Zarr 0.5 (``output_version="0.6"``: 0.6) view of a 0.4 dataset in place: Zarr v3 metadata
    beside the v2 metadata, describing the existing chunks where they are (no
    chunk is read, unless ``verify``, nor written); returns the plan.

    Nothing that is there is modified; what is added is recorded in the
    dataset, and ``undo_in_place`` removes exactly that. Refused, with nothing
    added, when an array's encoding has no registered Zarr v3 codec (convert it
    with ``resave`` instead), or when the dataset has a 0.5 view already
    (``overwrite=True`` replaces one this function added). A view left
    unfinished by a killed run is finished. ``verify``: decode every chunk on
    ``threads`` threads first (read-only). The RO-Crate options are those of
    ``resave``; ``follow_links``: links out of the dataset are read (nothing
    is ever written through them: such a dataset is refused).
    """
    src = open_location(input, role="input", s3=input_s3, follow_links=follow_links)
    settings = OutputSettings(
        overwrite=overwrite,
        notes=notes,
        crate=crate_info(src if isinstance(input, Store) else os.fspath(input), license=license,
                         organism=organism, modality=modality, name=name, description=description)
        if crate else None,
        progress=progress,
    )
    return _resave.resave_in_place(src, InPlaceExecutor(threads, verify), settings=settings, repair=repair,
                                   output_version=output_version)


def is_zarr_v3(input: Location, *, input_s3: S3Options | None = None) -> bool:
    """Whether ``input`` is Zarr v3 only (OME-Zarr 0.5 or newer), not a 0.4
    dataset (with or without a view added in place)."""
    src = open_location(input, role="input", s3=input_s3)
    return src.exists("zarr.json") and not src.exists(".zgroup")


def upgrade_in_place(input: Location, *, input_s3: S3Options | None = None,
                     follow_links: bool = False) -> _upgrade.Upgrade:
    """Upgrade an OME-Zarr 0.5 dataset to 0.6 where it is: only the groups'
    zarr.json are rewritten (no array's metadata, chunk or shard is read or
    written); the 0.5 bytes are kept, so ``undo_upgrade`` restores them
    exactly. The RO-Crate stays; the top group records the upgrade."""
    return _upgrade.upgrade(open_location(input, role="input", s3=input_s3, follow_links=follow_links))


def is_upgraded_in_place(input: Location, *, input_s3: S3Options | None = None) -> bool:
    return _upgrade.is_upgraded(open_location(input, role="input", s3=input_s3))


def undo_upgrade(input: Location, *, input_s3: S3Options | None = None) -> list[str]:
    """Write back the 0.5 metadata ``upgrade_in_place`` replaced, byte for
    byte; the keys written back."""
    return _upgrade.undo(open_location(input, role="input", s3=input_s3))


def undo_in_place(input: Location, *, input_s3: S3Options | None = None) -> list[str]:
    """Remove the 0.5 view ``resave_in_place`` added (exactly the files its
    record lists, then the record); the keys removed. Refused, with nothing
    removed, when a listed file is reached through a link that leads out of
    the dataset."""
    return _resave.undo_in_place(open_location(input, role="input", s3=input_s3))


def write_details(
    input: Location,
    output: Location,
    *,
    chunks: Shape | None = None,
    shards: Shape | None = None,
    codec: str | Compression | None = None,
    details=None,
    overwrite: bool = False,
    repair: bool = True,
    add_levels: int | bool | str | None = None,
    input_s3: S3Options | None = None,
    output_s3: S3Options | None = None,
    follow_links: bool = False,
) -> Plan:
    """Write the planned shape, chunks and shards of every array to ``output``
    (a JSON file) instead of converting; edit it and give it back as ``details``
    (``add_levels``: as for ``resave``, the added arrays listed too)."""
    size = parse_add_levels(add_levels)
    src = open_location(input, role="input", s3=input_s3, follow_links=follow_links)
    out = open_location(output, role="output", s3=output_s3)
    layout = layout_request(chunks=chunks, shards=shards, details=details, s3=output_s3 or input_s3)
    return _resave.resave_details(src, out, layout=layout, compression=_compression(codec), overwrite=overwrite,
                                  repair=repair, add_levels=size)


def validate(target: Location, *, against: Location | None = None, s3: S3Options | None = None,
             hosting: bool = True, timeout: float | None = -1.0, follow_links: bool = False) -> Report:
    """Check a dataset against the OME-Zarr 0.5 rules (0.6's for a 0.6 dataset) and the challenge's
    RO-Crate; with ``against`` (the 0.4 source), compare every voxel too.
    For an http(s):// target (``hosting``), also what web viewers need of the
    server (ranges, HEAD, CORS, 404s): each missing piece is a warning.
    ``timeout``: seconds the requests to remote stores may take in all (a
    server that answers slowly ends the run, in one line); default
    ``$OME2024_NGFF_CHALLENGE_VALIDATE_TIMEOUT``, else 600 s, or none with
    ``against`` (comparing every voxel takes as long as the data needs); None:
    no limit. ``report.valid``, ``report.errors`` and ``report.warnings`` say the result.
    ``follow_links``: read what local links lead to outside the dataset."""
    seconds = validate_timeout(timeout, against is not None)
    what = f"the time validate may take ({seconds or 0:g} s: {option('timeout')} or {VALIDATE_TIMEOUT_ENV} changes it)"
    with run_deadline(seconds, what):
        store = open_location(target, role="input", s3=s3, follow_links=follow_links)
        source = None
        if against is not None:
            where = against if isinstance(against, Store) else os.fspath(against)
            remote = {**(s3 or S3Options()).as_kwargs(), "bucket": None} if str(where).startswith("s3://") else {}
            source = where if isinstance(where, Store) else open_store(where, role="input",
                                                                       follow_links=follow_links, **remote)
        validator = _validate(store)
        url = getattr(store, "url", None)  # an HTTPStore's
        if hosting and isinstance(url, str) and url.startswith(("http://", "https://")) and validator.report.groups:
            for path, message in check_hosting(url, validator):
                validator.report.warn(path, message)
        if source is not None:
            compare_with_source(validator, source)
    return validator.report


VALIDATE_TIMEOUT_ENV = "OME2024_NGFF_CHALLENGE_VALIDATE_TIMEOUT"
DEFAULT_VALIDATE_TIMEOUT = 600.0


def validate_timeout(timeout: float | None, against: bool) -> float | None:
    """The deadline of a validate run in seconds (None: none); -1: the default."""
    if timeout is not None and timeout != -1.0:
        if not timeout > 0:
            msg = f"{option('timeout', timeout)}: expected a number of seconds above 0"
            raise UserError(msg)
        return float(timeout)
    if timeout is None:
        return None
    raw = os.environ.get(VALIDATE_TIMEOUT_ENV)
    if not raw:
        return None if against else DEFAULT_VALIDATE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < math.inf:
        msg = f"{VALIDATE_TIMEOUT_ENV}={raw!r}: expected a number of seconds above 0"
        raise UserError(msg)
    return value


def serve(path: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0) -> Server:
    """A server of the files below the folder ``path`` as S3 serves them to web
    viewers (byte ranges, HEAD, CORS; read-only, nothing outside ``path``), not
    yet serving: ``with serve(path) as server:`` serves on a background thread,
    ``server.serve_forever()`` on the caller's. ``server.url``; the converted
    datasets found below ``path``: ``server.datasets`` (relative) and
    ``server.dataset_urls``; ``server.notes``: what was skipped or why none
    was found. Port 0 takes a free port (``server.port``)."""
    server = Server(path, host=host, port=port)
    try:
        found, skipped, error = find_datasets(LocalStore(server.root))
    except UserError as e:  # its top cannot be looked into (a FIFO as zarr.json ...): served all the same
        found, skipped, error = [], [], str(e)
    server.datasets = found
    server.notes = [*skipped, *([error] if error else [])]
    return server


@dataclass
class CrateUpdate:
    info: CrateInfo  # the crate's fields after the update
    written: bool  # whether ro-crate-metadata.json was written
    location: str  # where it is


def update(target: Location, *, license: str | None = None, organism: str | None = None,
           modality: str | None = None, name: str | None = None, description: str | None = None,
           s3: S3Options | None = None, follow_links: bool = False) -> CrateUpdate:
    """Add or change the RO-Crate of a converted dataset (only
    ro-crate-metadata.json is written); with no field given, just read it.
    ``follow_links``: read what its links lead to outside it (never written)."""
    store = open_location(target, role="output", s3=s3, follow_links=follow_links)
    changes = crate_fields(license=license, organism=organism, modality=modality,
                           name=name, description=description)
    check_finished(store)
    text = target.describe() if isinstance(target, Store) else os.fspath(target)
    new = changes and not store.exists(CRATE_NAME)
    info, written = _update_crate(store, text, changes)
    if new and written:
        _in_place.note_added(store, CRATE_NAME)  # an in-place view's: undo removes it too
    return CrateUpdate(info, written, store.describe("ro-crate-metadata.json"))


@dataclass
class LookupResult:
    hits: list[_lookup.Hit]  # best first: the online service's, then the shipped table's
    online_error: str | None  # why the online search failed (None: it answered, or was not asked)
    url: str  # the search service asked ("" offline)


def lookup(text: str, *, ontology: str = "all", online: bool = True, ols_url: str | None = None,
           timeout: float = 3.0) -> LookupResult:
    """Ontology terms for the RO-Crate's organism (``ontology="ncbitaxon"``)
    and modality (``"fbbi"``) by name, synonym or id."""
    ontologies = (_lookup.NCBITAXON, _lookup.FBBI) if ontology == "all" else (ontology,)
    if any(o not in (_lookup.NCBITAXON, _lookup.FBBI) for o in ontologies):
        msg = f"{option('ontology', ontology)}: expected all, ncbitaxon or fbbi"
        raise UserError(msg)
    text = text.strip()
    if not text:
        msg = "lookup: give some text to search for, e.g. 'mouse' or 'light sheet'"
        raise UserError(msg)
    url = _lookup.ols_url(ols_url) if online else ""
    hits, failure = _lookup.lookup(text, ontologies, online=online, url=url, timeout=timeout)
    return LookupResult(hits, failure, url)


def catalog(targets: Location | Sequence[Location], *, thumbnails: bool = False,
            price_per_core_hour: float | None = None, threads: int | None = None,
            s3: S3Options | None = None, follow_links: bool = False) -> Catalog:
    """One row per converted dataset (OME-Zarr 0.5, made by any tool) and the
    cost summary of their conversions. Each target is a dataset or a folder,
    ``s3://`` prefix or Store holding datasets (looked for down to
    ``inventory.MAX_DEPTH`` levels); ``https://`` targets must be datasets (HTTP
    cannot be listed). A dataset that cannot be read is a row with its
    ``error``; the others go on. ``thumbnails``: draw each image's smallest
    level (for ``write_html``); ``price_per_core_hour`` adds costs to the
    summary. ``result.rows``, ``result.summary``, ``result.failed``;
    ``result.write_csv(path)``, ``write_summary(path)``, ``write_html(path)``.
    ``follow_links``: read what local links lead to outside the targets.
    """
    if isinstance(targets, (str, os.PathLike, Store)):
        targets = [targets]
    targets = list(targets)
    if not targets:
        msg = "catalog: give at least one dataset, or a folder or prefix holding datasets"
        raise UserError(msg)
    if price_per_core_hour is not None and not (math.isfinite(price_per_core_hour) and price_per_core_hour >= 0):
        msg = f"{option('price_per_core_hour', price_per_core_hour)}: expected a number, 0 or more"
        raise UserError(msg)
    stores = [open_location(t, role="input", s3=s3, follow_links=follow_links) for t in targets]
    return _inventory.build(stores, thumbnails=thumbnails, price_per_core_hour=price_per_core_hour, threads=threads)


def resave_collection(
    inputs: str | os.PathLike | Iterable[Mapping[str, str] | str],
    output_root: str | os.PathLike,
    *,
    chunks: Shape | None = None,
    shards: Shape | None = None,
    codec: str | Compression | None = None,
    details=None,
    overwrite: bool = False,
    threads: int | None = None,
    executor: TaskExecutor | None = None,
    license: str | None = None,
    organism: str | None = None,
    modality: str | None = None,
    name: str | None = None,
    description: str | None = None,
    crate: bool = True,
    notes: str | None = None,
    progress: bool = False,
    repair: bool = True,
    verify: bool = False,
    add_levels: int | bool | str | None = None,
    output_version: str = "0.5",
    input_s3: S3Options | None = None,
    output_s3: S3Options | None = None,
    ahead: int | None = None,
    spelling: Mapping[str, str] | None = None,
    follow_links: bool = False,
) -> list[dict[str, str]]:
    """Convert every dataset of a collection in one run, through one pool;
    returns the rows of ``OUTPUT_ROOT/catalog.csv`` (one per input, in order).

    ``inputs``: a CSV file (path or URL) with a header row and an ``input``
    column, optional ``output`` (relative to ``output_root``; default: the
    input's last path component, made unique) and ``name``, ``description``,
    ``license``, ``organism``, ``modality`` overriding the RO-Crate options
    for that row; or such rows as mappings (or plain input locations).
    Relative local inputs of a file are taken from the file's folder. Every
    other option is ``resave``'s and applies to every row; ``executor`` must
    run shard tasks (``ThreadExecutor``, ``DaskExecutor``). A dataset that
    fails has its one-line ``error`` in its row and the others go on; one
    whose output is complete is skipped; an unfinished one is resumed.
    ``ahead``: datasets planned ahead of the running ones (default 4, and
    for remote inputs as many as their store keeps requests in flight: each
    plan then waits for round trips rather than for a CPU); ``spelling``: how
    error messages name options (the command line passes its flags);
    ``follow_links``: as for ``resave``, for every local input.
    """
    size = parse_add_levels(add_levels)
    _resave.check_output_version(output_version)
    entries = _collection.load_list(inputs, **{**(input_s3 or S3Options()).as_kwargs(), "bucket": None},
                                    relative=not (input_s3 and input_s3.bucket))
    if isinstance(output_root, Store):
        msg = "resave_collection: the output root must be a path or an s3:// URL (each dataset is a folder in it)"
        raise UserError(msg)
    root_text = os.fspath(output_root)
    root = open_location(root_text, role="output", s3=output_s3)
    if not root.supports_writes:
        msg = f"{root.describe()}: cannot be written"
        raise UserError(msg)
    layout = layout_request(chunks=chunks, shards=shards, details=details, s3=output_s3 or input_s3)
    compression = _compression(codec)
    defaults = {"license": license, "organism": organism, "modality": modality, "name": name,
                "description": description}
    crate_fields(**defaults)  # refused before anything is written
    executor = executor if executor is not None else ThreadExecutor(threads)
    if not isinstance(executor, TaskExecutor):
        msg = f"resave_collection: {type(executor).__name__} cannot run a collection (use ThreadExecutor or DaskExecutor)"
        raise UserError(msg)
    local_root = not is_remote(root_text) and not (output_s3 and output_s3.bucket)

    def location(entry: _collection.Entry) -> str:
        if local_root:
            return os.path.join(root_text, entry.output)
        return f"{root_text.rstrip('/')}/{entry.output}" if root_text.strip("/") else entry.output

    def preparation(entry: _collection.Entry):
        def prepare():
            where = location(entry)
            out = open_location(where, role="output", s3=output_s3)
            src = open_location(entry.input, role="input", s3=input_s3, follow_links=follow_links)
            if not overwrite and _collection.is_complete(out):
                return Skipped(_collection.finished_summary(out, src))
            fields = {**{k: v for k, v in defaults.items() if v is not None}, **entry.crate}
            settings = OutputSettings(overwrite=overwrite, notes=notes, progress=False,
                                      crate=crate_info(where, **fields) if crate else None)
            return _resave.prepare(src, out, layout=layout, compression=compression, settings=settings,
                                   repair=repair, verify=verify, add_levels=size, output_version=output_version)
        return prepare

    for n, entry in enumerate(entries):  # the catalogue is never written into an input
        try:
            src = open_location(entry.input, role="input", s3=input_s3, follow_links=follow_links)
        except UserError:
            continue  # its own row says why
        if n == 0:  # threads for the stores (remote ones want more); the first row stands for all
            executor.configure(src, root)
            if ahead is None:
                ahead = max(DEFAULT_AHEAD, src.preferred_concurrency)
        if _collection.root_inside(root, src):
            msg = f"{root.describe()}: the output root must not be an input or inside one ({entry.input})"
            raise OutputError(msg)
    # catalog.csv and the outputs are never written into a dataset
    if local_root:
        for entry in entries:  # nor through a link in the root that leads out of it
            root.check_writable(f"{entry.output}/zarr.json")
        check_report_path(os.path.join(root_text, _collection.CATALOG), "a collection's catalog.csv")
    elif any(root.exists(name) for name in DATASET_FILES):
        msg = f"{root.describe()}: is a Zarr dataset: the output root of a collection must be a folder of datasets"
        raise OutputError(msg)
    catalog = _collection.Catalog(root, [e.input for e in entries], [root.describe(e.output) for e in entries])

    def on_end(ended: Ended) -> None:
        full = isinstance(ended.error, DiskFullError) or isinstance(ended.error, OSError) and \
            ended.error.errno in DISK_FULL
        if full and ended.conversion is not None:  # which output, how much it needs, that a re-run resumes
            ended.error = ended.conversion.disk_full(ended.error)
        row = catalog.record(ended.index, ended.status, conversion=ended.conversion, stats=ended.stats,
                             started=ended.started, stopped=ended.stopped,
                             found=ended.skipped.details if ended.skipped else None,
                             error=ended.error and _collection.error_text(
                                 ended.error, catalog.inputs[ended.index], catalog.urls[ended.index], spelling))
        if row["error"]:
            LOG.error("%s", row["error"])

    with catalog, CollectionProgress(len(entries), enabled=progress) as bar:
        CollectionRunner(executor, ahead=ahead or DEFAULT_AHEAD).run([preparation(e) for e in entries], on_end, bar)
    return [r for r in catalog.rows if r is not None]
