"""Doctest set-up: the names every example in the packages may use without importing them."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _doctest_names(doctest_namespace):
    """``np``, ``tf``, ``pp`` and ``run_in_memory`` in every doctest."""
    import numpy as np
    import tensorflow as tf

    import preprocessing as pp
    from preprocessing.engine import run_in_memory

    doctest_namespace.update(np=np, tf=tf, pp=pp, run_in_memory=run_in_memory)
