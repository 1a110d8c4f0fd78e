"""Shared data for the writer scripts: c,z,y,x uint16 (2,4,64,64), same as realworld_writers._image."""
import os, shutil, sys
import numpy as np

OUT = os.environ.get("SURVEY_OUT", "/work/venvs/survey-out")


def image(shape=(2, 4, 64, 64), seed=0):
    return np.random.default_rng(seed).integers(0, 1000, size=shape, dtype=np.uint16)


def labels(shape=(4, 64, 64), dtype=np.uint32):
    lab = np.zeros(shape, dtype=dtype)
    lab[..., 8:24, 8:24] = 1
    lab[..., 40:56, 30:60] = 2
    return lab


def fresh(name):
    p = os.path.join(OUT, name)
    shutil.rmtree(p, ignore_errors=True)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p
