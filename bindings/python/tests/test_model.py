"""Models through the bindings: settings, parameter views, training calls,
inference shapes, and checkpoint round trips."""

from __future__ import annotations

import gc
import pathlib

import numpy as np
import pytest

import libvae
from libvae import Activation, ClosedError, Likelihood, Param, Side, Status, VaeError


def test_defaults_are_the_lesson_model() -> None:
    with libvae.Model() as m:
        assert (m.input_dim, m.latent_dim, m.cond_dim) == (784, 2, 0)
        assert m.hidden("encoder") == [400] and m.hidden(Side.DECODER) == [400]
        # 784*400 + 400 + 400*4 + 4 + 2*400 + 400 + 400*784 + 784
        assert m.param_count == 631188
        assert m.get("activation") is Activation.RELU
        assert m.get(Param.LIKELIHOOD) is Likelihood.BERNOULLI
        assert m.get("seed") == 1 and m.get("beta") == 1.0
        assert m.steps == 0 and m.epochs == 0
        assert "784-400-2-400-784" in repr(m)


def test_keyword_settings_reach_the_model() -> None:
    with libvae.Model(input_dim=10, latent_dim=3, encoder=[7, 5], decoder=[6],
                      activation="tanh", likelihood="gaussian", beta=4, seed=9,
                      eval_use_mean=True) as m:
        assert m.hidden("encoder") == [7, 5] and m.hidden("decoder") == [6]
        assert m.get("activation") is Activation.TANH
        assert m.get("likelihood") is Likelihood.GAUSSIAN
        assert m.get("beta") == 4.0 and m.get("seed") == 9
        assert m.get("eval_use_mean") is True
        assert m.settings["latent_dim"] == 3
        m.set("beta", 0.5)
        assert m.get("beta") == 0.5
        with pytest.raises(VaeError) as info:
            m.set("latent_dim", 4)  # architecture: fixed once created
        assert info.value.status is Status.INVALID_ARGUMENT


def test_config_object_and_bounds() -> None:
    assert libvae.Config.bounds("beta") == (0.0, 1e6)
    with libvae.Config(latent_dim=5, hidden=[9, 8]) as cfg:
        assert cfg.get("latent_dim") == 5
        m = libvae.Model(cfg)
        assert m.latent_dim == 5 and m.hidden("decoder") == [9, 8]
        m.close()
    with pytest.raises(TypeError):
        libvae.Model(libvae.Config(), latent_dim=3)


def test_params_view_writes_reach_the_model(small_model: libvae.Model) -> None:
    p = small_model.params
    assert p.dtype == np.float32 and p.shape == (small_model.param_count,)
    assert p.flags.writeable and not p.flags.owndata
    # Zero weights and biases: every logit is 0, every pixel probability 1/2.
    p[:] = 0
    out = small_model.decode(np.ones((3, 2), np.float32))
    np.testing.assert_array_equal(out, np.full((3, 16), 0.5, np.float32))
    # The view is the model's memory: a new view sees the write.
    p[0] = 1.25
    assert small_model.params[0] == np.float32(1.25)


def test_tensors_tile_the_buffer(small_model: libvae.Model) -> None:
    ts = small_model.tensors()
    assert ts[0].name.startswith("encoder") and ts[0].offset == 0
    end = 0
    for t in ts:
        assert t.offset == end
        end += t.rows * t.cols
    assert end == small_model.param_count
    w = small_model.tensor(ts[0].name)
    assert w.shape == (ts[0].rows, ts[0].cols)
    w[0, 0] = 7.0
    assert small_model.params[0] == 7.0
    with pytest.raises(KeyError):
        small_model.tensor("nope")


def test_backward_fills_grads(small_model: libvae.Model, small_data: np.ndarray) -> None:
    before = small_model.params.copy()
    loss = small_model.backward(small_data)
    assert isinstance(loss, libvae.Loss)
    assert loss.total == pytest.approx(loss.recon + loss.kl)
    g = small_model.grads
    assert not g.flags.writeable and np.any(g != 0)
    np.testing.assert_array_equal(small_model.params, before)
    with pytest.raises(AttributeError):
        loss.total = 0  # frozen


def test_train_step_and_optimizer(small_model: libvae.Model, small_data: np.ndarray) -> None:
    with libvae.SGD(small_model, lr=0.1, momentum=0.5) as sgd:
        assert sgd.kind is libvae.OptimKind.SGD
        assert sgd.lr == pytest.approx(0.1) and sgd.get("momentum") == 0.5
        first = small_model.train_step(sgd, small_data)
        for _ in range(30):
            last = small_model.train_step(sgd, small_data)
        assert last.objective < first.objective
        assert small_model.steps == 31
        # backward + step by hand is the same operation
        small_model.backward(small_data)
        sgd.step()
        assert small_model.steps == 32


def test_train_epoch_progress(small_model: libvae.Model, small_data: np.ndarray) -> None:
    seen = []
    with libvae.Adam(small_model) as adam, libvae.Dataset.from_array(small_data) as ds:
        mean = small_model.train_epoch(adam, ds, batch_size=16,
                                       progress=lambda b, n, l: seen.append((b, n, l.total)))
        assert [(b, n) for b, n, _ in seen] == [(0, 3), (1, 3), (2, 3)]
        assert small_model.epochs == 1 and small_model.steps == 3
        # the mean is weighted by batch size: 16, 16, 8
        assert mean.total == pytest.approx((16 * seen[0][2] + 16 * seen[1][2] + 8 * seen[2][2])
                                           / 40)
        ev = small_model.evaluate(ds)
        assert ev == small_model.evaluate(ds), "evaluation noise is the same every call"


def test_exception_in_progress_stops_and_reraises(small_model: libvae.Model,
                                                  small_data: np.ndarray) -> None:
    calls = []

    def progress(b: int, n: int, loss: libvae.Loss) -> None:
        calls.append(b)
        raise KeyError("stop here")

    with libvae.Adam(small_model) as adam, libvae.Dataset.from_array(small_data) as ds:
        with pytest.raises(KeyError, match="stop here"):
            small_model.train_epoch(adam, ds, batch_size=8, progress=progress)
        assert calls == [0], "training stopped after the first batch"
        assert small_model.steps == 1 and small_model.epochs == 0
        # and the model is fine afterwards
        small_model.train_epoch(adam, ds, batch_size=8)
        assert small_model.epochs == 1


def test_inference_shapes(small_model: libvae.Model, small_data: np.ndarray) -> None:
    mu, logvar = small_model.encode(small_data)
    assert mu.shape == logvar.shape == (40, 2) and mu.dtype == np.float32
    mu1, _ = small_model.encode(small_data[0])
    # One image alone goes through products of one row, which a BLAS may
    # round otherwise than the same row among 40: equal up to float32
    # rounding of the 16- and 8-term dot products, not bit for bit.
    np.testing.assert_allclose(mu1, mu[0], rtol=1e-5, atol=1e-6)
    assert small_model.decode(mu).shape == (40, 16)
    assert small_model.decode(mu[0]).shape == (16,)
    np.testing.assert_array_equal(small_model.reconstruct(small_data), small_model.decode(mu))
    out = np.empty((40, 16), np.float32)
    assert small_model.decode(mu, out=out) is out
    x, z = small_model.sample(5, seed=7, return_z=True)
    assert x.shape == (5, 16) and z.shape == (5, 2)
    np.testing.assert_array_equal(small_model.decode(z), x)
    np.testing.assert_array_equal(small_model.sample(5, seed=7), x)
    assert not np.array_equal(small_model.sample(5, seed=8), x)
    # float64 and non-contiguous inputs are converted
    np.testing.assert_array_equal(small_model.encode(small_data.astype(np.float64))[0], mu)
    f = np.asfortranarray(small_data)
    np.testing.assert_array_equal(small_model.encode(f)[0], mu)


def test_conditional_model() -> None:
    with libvae.Model(input_dim=6, cond_dim=3, hidden=4) as m:
        x = np.full((2, 6), 0.5, np.float32)
        c = np.eye(3, dtype=np.float32)[:2]
        assert m.encode(x, c)[0].shape == (2, 2)
        with pytest.raises(VaeError) as info:
            m.encode(x)  # the library requires the conditioning
        assert info.value.status is Status.INVALID_ARGUMENT
        with pytest.raises(VaeError):
            m.encode(x, c[:1])
        assert m.sample(2, cond=c).shape == (2, 6)


def test_save_load_round_trip(tmp_path: pathlib.Path, small_data: np.ndarray) -> None:
    path = tmp_path / "m.vae"
    with libvae.Model(input_dim=16, hidden=[8, 6], latent_dim=3, beta=2, seed=5) as m, \
            libvae.Dataset.from_array(small_data) as ds:
        adam = libvae.Adam(m, lr=3e-3)
        m.train_epoch(adam, ds, batch_size=8)
        m.save(path, adam)
        # the uninterrupted run
        expected = [m.train_epoch(adam, ds, batch_size=8) for _ in range(2)]
        params = m.params.copy()

    m2, adam2 = libvae.load(path)
    with m2:
        assert isinstance(adam2, libvae.Adam) and adam2.lr == pytest.approx(3e-3)
        assert adam2.model is m2
        assert m2.hidden("encoder") == [8, 6] and m2.get("beta") == 2 and m2.epochs == 1
        with libvae.Dataset.from_array(small_data) as ds:
            resumed = [m2.train_epoch(adam2, ds, batch_size=8) for _ in range(2)]
        assert resumed == expected, "a resumed run repeats the uninterrupted one exactly"
        np.testing.assert_array_equal(m2.params, params)

    # without optimizer state in the file, or not asked for
    with libvae.Model(input_dim=16, hidden=8) as m:
        libvae.save(path, m)
        saved = m.params.copy()
    m3, none = libvae.load(path)
    assert none is None
    np.testing.assert_array_equal(m3.params, saved)
    m3.close()
    m4, skipped = libvae.load(path, optimizer=False)
    assert skipped is None
    m4.close()


def test_closed_handles_raise(small_model: libvae.Model) -> None:
    adam = libvae.Adam(small_model)
    small_model.close()
    assert small_model.closed and adam.closed, "closing a model closes its optimizers"
    with pytest.raises(ClosedError, match="model is closed"):
        small_model.encode(np.zeros((1, 16), np.float32))
    with pytest.raises(ClosedError, match="optimizer is closed"):
        adam.step()
    with pytest.raises(VaeError) as info:  # one except clause catches every failure
        small_model.decode(np.zeros((1, 2), np.float32))
    assert info.value.status is Status.INVALID_ARGUMENT
    assert isinstance(info.value, ValueError)
    small_model.close()
    adam.close()
    assert "closed" in repr(small_model) and "closed" in repr(adam)


def test_params_view_outlives_close() -> None:
    m = libvae.Model(input_dim=16, hidden=8)
    p = m.params
    p[:] = 3.0
    m.close()
    del m
    gc.collect()
    # the memory is still the model's, freed only when the view goes
    assert float(p.sum()) == 3.0 * p.size
    view_of_view = p[2:5]
    del p
    gc.collect()
    assert np.all(view_of_view == 3.0)


def test_a_signal_stops_an_epoch_between_batches(data_dir: pathlib.Path) -> None:
    import signal

    class Alarm(Exception):
        pass

    def on_alarm(signum: int, frame: object) -> None:
        raise Alarm()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        with libvae.Dataset.from_idx(data_dir / "train-images-idx3-ubyte.gz") as train, \
                libvae.Model(seed=2) as m, libvae.Adam(m) as adam:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            with pytest.raises(Alarm):
                m.train_epoch(adam, train, batch_size=32)  # 250 steps, well over 50 ms
            # it stopped between batches, not at the end of the epoch
            assert 1 <= m.steps < 250 and m.epochs == 0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
