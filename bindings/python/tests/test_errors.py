"""Every status of vae_status reaches Python as a VaeError carrying it and the
library's message; the bindings' own refusals use the same exception."""

from __future__ import annotations

import os
import pathlib
import struct
import subprocess
import sys
import zlib
from typing import Callable, Dict

import numpy as np
import pytest

import libvae
from libvae import Status, VaeError


def invalid_argument(tmp: pathlib.Path) -> None:
    libvae.Model(latent_dim=0)


def out_of_memory(tmp: pathlib.Path) -> None:
    # 2e12 parameters, under an address-space cap so that the allocation
    # fails whatever the machine's overcommit policy: in a child process.
    code = (
        "import resource, libvae\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "try:\n"
        "    libvae.Model(input_dim=1 << 24, hidden=65536)\n"
        "except libvae.VaeError as e:\n"
        "    print(int(e.status), e.message)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=os.environ).stdout
    status, message = out.split(" ", 1)
    raise VaeError(Status(int(status)), message.strip())


def io(tmp: pathlib.Path) -> None:
    libvae.Dataset.from_idx(tmp / "no-such-file")


def format_(tmp: pathlib.Path) -> None:
    (tmp / "junk.vae").write_bytes(b"not a checkpoint at all" * 10)
    libvae.load(tmp / "junk.vae")


def unsupported(tmp: pathlib.Path) -> None:
    # A well-formed checkpoint of a future format version: bump the version
    # field and recompute the CRC, so only the version is wrong.
    with libvae.Model(input_dim=4, hidden=3) as m:
        m.save(tmp / "m.vae")
    data = bytearray((tmp / "m.vae").read_bytes())
    data[8:12] = struct.pack("<I", 99)
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    (tmp / "m.vae").write_bytes(bytes(data))
    libvae.load(tmp / "m.vae")


def mismatch(tmp: pathlib.Path) -> None:
    with libvae.Model(input_dim=4, hidden=3) as m, \
            libvae.Dataset.from_array(np.zeros((5, 6), np.float32)) as ds:
        m.evaluate(ds)


def numeric(tmp: pathlib.Path) -> None:
    with libvae.Model(input_dim=4, hidden=3) as m, libvae.Adam(m) as adam:
        m.params[:] = np.nan
        m.train_step(adam, np.full((2, 4), 0.5, np.float32))


def cancelled(tmp: pathlib.Path) -> None:
    with libvae.Model(input_dim=4, hidden=3) as m, libvae.Adam(m) as adam, \
            libvae.Dataset.from_array(np.full((10, 4), 0.5, np.float32)) as ds:
        m.train_epoch(adam, ds, batch_size=2, progress=lambda b, n, loss: True)


def limit(tmp: pathlib.Path) -> None:
    libvae.Dataset.from_idx(pathlib.Path(__file__).parents[3] / "examples" / "data" /
                            "mnist-subset" / "t10k-images-idx3-ubyte.gz", max_bytes=100)


def unavailable(tmp: pathlib.Path) -> None:
    libvae.select_backend("no-such-backend")


def callback(tmp: pathlib.Path) -> None:
    def failing(a, b, c, alpha, beta):  # type: ignore[no-untyped-def]
        raise RuntimeError("host GEMM broke")
    libvae.set_sgemm(failing)
    try:
        with libvae.Model(input_dim=4, hidden=3) as m:
            m.decode(np.zeros((1, 2), np.float32))
    finally:
        libvae.set_sgemm(None)


TRIGGERS: Dict[Status, Callable[[pathlib.Path], None]] = {
    Status.INVALID_ARGUMENT: invalid_argument,
    Status.OUT_OF_MEMORY: out_of_memory,
    Status.IO: io,
    Status.FORMAT: format_,
    Status.UNSUPPORTED: unsupported,
    Status.MISMATCH: mismatch,
    Status.NUMERIC: numeric,
    Status.CANCELLED: cancelled,
    Status.LIMIT: limit,
    Status.UNAVAILABLE: unavailable,
    Status.CALLBACK: callback,
}


def test_every_status_has_a_trigger() -> None:
    assert set(TRIGGERS) == set(Status) - {Status.OK}


@pytest.mark.parametrize("status", sorted(TRIGGERS), ids=lambda s: s.name.lower())
def test_status_is_raised_with_the_library_message(status: Status,
                                                   tmp_path: pathlib.Path) -> None:
    with pytest.raises(VaeError) as info:
        TRIGGERS[status](tmp_path)
    e = info.value
    assert e.status is status
    assert isinstance(e.status, Status)
    assert e.message, "the library's message is carried"
    assert e.message in str(e)


def test_messages_name_the_problem(tmp_path: pathlib.Path) -> None:
    with pytest.raises(VaeError) as info:
        libvae.Model(latent_dim=0)
    assert "latent_dim" in info.value.message
    with pytest.raises(VaeError) as info:
        libvae.Dataset.from_idx(tmp_path / "missing.gz")
    assert "missing.gz" in info.value.message


def test_callback_failure_carries_the_python_exception() -> None:
    with pytest.raises(VaeError) as info:
        callback(pathlib.Path("."))
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "host GEMM broke" in str(info.value.__cause__)


def test_cancelled_epoch_reports_the_loss_so_far(tmp_path: pathlib.Path) -> None:
    with pytest.raises(VaeError) as info:
        cancelled(tmp_path)
    assert info.value.loss is not None and info.value.loss.total > 0


def test_bindings_refuse_shapes_before_calling() -> None:
    with libvae.Model(input_dim=4, hidden=3) as m:
        with pytest.raises(VaeError) as info:
            m.encode(np.zeros((2, 5), np.float32))
        assert info.value.status is Status.MISMATCH
        with pytest.raises(VaeError) as info:
            m.decode(np.zeros((2, 3), np.float32))
        assert info.value.status is Status.MISMATCH
        with pytest.raises(VaeError) as info:
            m.set("no_such_setting", 1)
        assert info.value.status is Status.INVALID_ARGUMENT
        with pytest.raises(VaeError) as info:
            m.set("activation", "sigmoid")
        assert info.value.status is Status.INVALID_ARGUMENT


def test_error_pickles() -> None:
    import pickle

    e = pickle.loads(pickle.dumps(VaeError(Status.IO, "x: gone")))
    assert e.status is Status.IO and e.message == "x: gone"
