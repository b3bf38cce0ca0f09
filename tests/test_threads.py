"""Threads: camcourse.train.set_threads (one intra-op thread per free core), and MaxBoxAcc's
numba threads, which share out the maps without changing any number."""

from unittest import mock

import numba
import pytest
import torch

from camcourse import train
from camcourse.benchmarks.__main__ import resnet_like_maps
from camlib import localize


@pytest.fixture(autouse=True)
def _keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "load", "expected"), [
    (2, 0.0, 2), (2, 0.2, 2), (2, 1.0, 1), (2, 1.4, 1), (2, 2.0, 1), (2, 11.0, 1),
    (8, 3.0, 5), (8, 0.0, 8), (1, 0.0, 1),
])
def test_default_threads_are_the_free_cores(cores, load, expected):
    with mock.patch.object(train.os, "sched_getaffinity", lambda pid: set(range(cores)),
                           create=True), \
            mock.patch.object(train.os, "getloadavg", lambda: (load, load, load)):
        assert train.set_threads() == expected
    assert torch.get_num_threads() == expected


def test_explicit_threads_are_kept():
    assert train.set_threads(1) == 1
    with mock.patch.object(train.os, "getloadavg", lambda: (50.0, 50.0, 50.0)):
        assert train.set_threads(2) == 2


def test_without_getloadavg_every_core_counts():
    def missing():
        raise OSError("no load average here")

    with mock.patch.object(train.os, "sched_getaffinity", lambda pid: {0, 1, 2}, create=True), \
            mock.patch.object(train.os, "getloadavg", missing):
        assert train.set_threads() == 3


@pytest.mark.parametrize("protocol", localize.PROTOCOLS)
def test_max_box_acc_does_not_depend_on_the_number_of_threads(protocol):
    maps, gt = resnet_like_maps(13, size=96, seed=3)
    before = numba.get_num_threads()
    curves = []
    try:
        for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
            numba.set_num_threads(threads)
            curves.append(localize.box_accuracy_curve(maps, gt, protocol=protocol,
                                                      batch_size=7))
    finally:
        numba.set_num_threads(before)
    for curve in curves[1:]:
        assert all(torch.equal(curve[key], curves[0][key]) for key in curve)
