"""Ways of running a plan, all behind one protocol (``base.Executor``): local
threads, a Dask cluster, job-array lines, ``zarrs_reencode`` scripts, and the
0.5 view added in place."""

from .base import Executor, TaskExecutor
from .dask import DaskExecutor
from .in_place import InPlaceExecutor
from .job_array import JobLineExecutor, JobScriptExecutor
from .threads import ThreadExecutor, default_threads
from .zarrs_script import ZarrsScriptExecutor

__all__ = [
    "DaskExecutor",
    "Executor",
    "InPlaceExecutor",
    "JobLineExecutor",
    "JobScriptExecutor",
    "TaskExecutor",
    "ThreadExecutor",
    "ZarrsScriptExecutor",
    "default_threads",
]
