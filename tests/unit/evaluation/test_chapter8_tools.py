"""Chapter 8's evaluation tools: overlap-blended tiling, DeblurGAN at test time (dropout on,
seeded per image), the best methods with ties, the ledger (numbers and reasons, run identity,
staleness) and the one gamma convention of the evaluation set."""

import json

import numpy as np
import pytest

from deblurkit import evaluation as ev
from deblurkit.evaluation import testtime
from deblurkit.imaging import nonuniform


def test_tiling_is_exact_for_the_identity_and_calls_fn_once():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(70, 101, 3))
    calls = []

    def identity(windows):
        calls.append(windows.shape)
        return windows

    out = ev.tiled_apply(identity, image, tile=32, overlap=8)
    assert np.allclose(out, image) and len(calls) == 1
    assert calls[0][1:] == (32, 32, 3)


def test_tiling_blends_across_seams():
    image = np.zeros((64, 160))
    # every window returns its own index: without blending the output would jump by 1 at a seam
    out = ev.tiled_apply(lambda w: np.ones_like(w) * np.arange(len(w))[:, None, None], image, tile=64, overlap=32)
    steps = np.abs(np.diff(out, axis=1))
    assert steps.max() < 0.2  # the jump of 1 is spread over the overlap
    assert out[:, 0].max() == 0 and out[:, -1].min() == pytest.approx(out.max())


def test_tiling_pads_small_images_and_refuses_bad_overlap():
    small = np.random.default_rng(1).uniform(size=(20, 24))
    assert np.allclose(ev.tiled_apply(lambda w: w, small, tile=32, overlap=8), small)
    with pytest.raises(ValueError, match="overlap"):
        ev.tiled_apply(lambda w: w, small, tile=32, overlap=17)
    with pytest.raises(ValueError, match="fn must return"):
        ev.tiled_apply(lambda w: w[:, :8], small, tile=32, overlap=8)


def test_blend_window_ramps_and_is_one_inside():
    w = ev.blend_window(16, 4)
    assert w.shape == (16, 16) and w[8, 8] == 1.0
    assert 0 < w[0, 8] < w[1, 8] < w[3, 8] < 1


def test_item_seed_is_deterministic_and_distinct():
    assert testtime.item_seed(0, "test:a") == testtime.item_seed(0, "test:a")
    assert len({testtime.item_seed(0, "test:a"), testtime.item_seed(0, "test:b"), testtime.item_seed(1, "test:a")}) == 3
    with pytest.raises(ValueError, match="key"):
        testtime.item_seed(0, "")


def test_test_time_dropout_is_on_seeded_per_image_and_leaves_the_model_as_it_was():
    torch = pytest.importorskip("torch")
    from deblurkit.models.deblurgan import Generator

    torch.manual_seed(0)
    gen = Generator(ngf=4, n_blocks=1, dropout=0.5).train()
    images = [np.random.default_rng(i).uniform(size=(16, 20, 3)) for i in range(2)]
    on = testtime.restore_images(gen, images, seeds=[1, 2])
    again = testtime.restore_images(gen, images[::-1], seeds=[2, 1])  # order does not matter
    assert np.array_equal(on[0], again[1]) and np.array_equal(on[1], again[0])
    other = testtime.restore_images(gen, images, seeds=[3, 4])
    assert not np.array_equal(on[0], other[0])  # the masks follow the seed: dropout is on
    off = testtime.restore_images(gen, images, seeds=[1, 2], dropout=False)
    assert np.array_equal(off[0], testtime.restore_images(gen, images, seeds=[9, 9], dropout=False)[0])
    assert gen.training and all(m.training for m in gen.modules())
    with pytest.raises(ValueError, match="one seed per image"):
        testtime.restore_images(gen, images, seeds=[1])


def test_best_methods_keeps_ties():
    scores = {"a": 20.0, "b": 20.05, "c": 19.0}
    assert ev.best_methods(scores, tolerance=0.1) == ["b", "a"]
    assert ev.best_methods(scores, tolerance=0.0) == ["b"]
    assert ev.best_phrase(["b", "a"], tolerance=0.1) == "b and a (tied within 0.1 dB)"
    assert ev.best_phrase(["b"], tolerance=0.1) == "b"


def _record(**extra):
    return {"seed": "003", "claim": "x", "verdict": "not reproducible offline", "reason": "no data",
            "claimed": 28.39, "measured": 22.5, "tolerance": None, "unit": "dB", "chapter": "05_adaptive_basis"} | extra


def test_ledger_shows_numbers_and_reason_and_run_identity():
    [row] = ev.ledger_rows([_record(commit="abc1234", profile="cpu", time="2026-12-06T20:00:00")], changed_since=lambda c, ch: False)
    assert "claimed 28.39 dB" in row["numbers"] and "measured 22.5 dB" in row["numbers"]
    assert row["reason"] == "no data" and "abc1234" in row["run"] and not row["stale"]
    html = ev.ledger_html([row])
    assert "claimed 28.39 dB" in html and "no data" in html and "abc1234" in html


def test_a_record_is_stale_by_cache_key_else_by_commit_else_always():
    assert ev.record_is_stale(_record(cache_key="k1"), current_key="k2")
    assert not ev.record_is_stale(_record(cache_key="k1"), current_key="k1")
    assert ev.record_is_stale(_record(commit="abc"), changed_since=lambda c, ch: True)
    assert not ev.record_is_stale(_record(commit="abc"), changed_since=lambda c, ch: False)
    assert ev.record_is_stale(_record())  # no identity at all


def test_the_book_runners_keys_decide_staleness_over_a_dirty_commit(monkeypatch):
    dirty = _record(cache_key="k1", commit="abc+dirty")
    monkeypatch.delenv("DEBLURKIT_CHAPTER_KEYS", raising=False)
    assert ev.current_chapter_keys() is None  # by hand: the commit decides, and a dirty tree counts
    assert ev.ledger_rows([dirty], current_keys=None, changed_since=lambda c, ch: True)[0]["stale"]
    monkeypatch.setenv("DEBLURKIT_CHAPTER_KEYS", json.dumps({"05_adaptive_basis": "k1"}))
    keys = ev.current_chapter_keys()
    assert not ev.ledger_rows([dirty], current_keys=keys, changed_since=lambda c, ch: True)[0]["stale"]
    monkeypatch.setenv("DEBLURKIT_CHAPTER_KEYS", json.dumps({"05_adaptive_basis": "k2"}))
    assert ev.ledger_rows([dirty], current_keys=ev.current_chapter_keys())[0]["stale"]
    monkeypatch.setenv("DEBLURKIT_CHAPTER_KEYS", "[1, 2]")
    with pytest.raises(ValueError, match="DEBLURKIT_CHAPTER_KEYS"):
        ev.current_chapter_keys()


def test_every_item_is_blurred_in_linear_intensity_with_one_gamma():
    items = ev.evaluation_set("smoke", 0, split="validation")
    assert {it["gamma"] for it in items} == {ev.GAMMA}
    it = next(i for i in items if i["kind"] == "gaussian")
    # decoded, the blurred item is darker on average than a blur of the encoded values would be
    assert it["blurred"].min() >= 0 and it["blurred"].max() <= 1


def test_every_oracle_method_reads_the_items_gamma():
    item = next(i for i in ev.evaluation_set("smoke", 0, split="validation") if i["kind"] == "defocus")
    item = dict(item, blurred=item["blurred"])
    for method in ev.oracle_methods(0):
        if "defocus" not in method.kinds:
            continue
        s = method.settings[0]
        with_gamma = method.restore(item, [s])[s]
        without = method.restore(dict(item, gamma=1.0), [s])[s]
        assert not np.allclose(with_gamma, without), method.name


def test_in_linear_decodes_restores_and_encodes():
    image = np.linspace(0.1, 0.9, 12).reshape(3, 4)
    seen = []
    out = ev.in_linear(lambda y: seen.append(y) or y, image, 2.2)
    assert np.allclose(seen[0], image**2.2) and np.allclose(out, image)
    assert np.allclose(ev.in_linear(lambda y: y, image, 1.0), image)


def test_the_blind_l0_method_reads_the_items_gamma_and_keeps_the_shape():
    item = next(i for i in ev.evaluation_set("smoke", 0, split="validation") if i["kind"] == "trajectory")
    method = ev.blind_l0_method("smoke")
    assert method.kinds == ev.BLUR_KINDS and not method.oracle
    s = method.settings[0]
    with_gamma = method.restore(item, [s])[s]
    without = method.restore(dict(item, gamma=1.0), [s])[s]
    assert with_gamma.shape == item["blurred"].shape and 0 <= with_gamma.min() and with_gamma.max() <= 1
    assert not np.allclose(with_gamma, without)


def test_chapter_8_runs_its_networks_on_the_cpu_where_no_gpu_is_visible(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    assert testtime.evaluation_device() == torch.device("cpu")
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == tf32  # the CPU is left alone
    with pytest.raises(ValueError, match="no CUDA device"):
        testtime.evaluation_device("cuda")


def _items(n_per_kind=3, kinds=("defocus", "gaussian")):
    rng = np.random.default_rng(0)
    return [{"key": f"test:{k}:{i}", "kind": k, "sharp": (s := rng.uniform(size=(12, 12))), "blurred": 0.5 * s + 0.25}
            for k in kinds for i in range(n_per_kind)]


def test_retime_times_a_sample_on_the_other_device_and_keeps_the_scores():
    test = _items()
    calls = []

    def gpu(it, settings):
        return {s: it["sharp"] for s in settings}  # "the GPU run": perfect restorations

    def cpu(it, settings):
        calls.append((it["key"], tuple(settings)))
        return {s: it["blurred"] for s in settings}

    by_kind = ev.evaluate(ev.Method("net", "net", ("defocus", "gaussian"), gpu), [], test)
    again = ev.retime(ev.Method("net", "net", ("defocus", "gaussian"), cpu), by_kind, test, per_kind=2)
    assert calls == [(k, (None,)) for k in ["test:defocus:0", "test:defocus:1", "test:gaussian:0", "test:gaussian:1"]]
    for kind, row in again.items():
        assert row["psnr"] == by_kind[kind]["psnr"] and row["images"] is by_kind[kind]["images"]
        assert len(row["seconds"]) == 2 and row["device_seconds"] == by_kind[kind]["seconds"]
        assert row["timed_keys"] == by_kind[kind]["keys"][:2]
        assert all(p < 30 for p in row["timed_psnr"]) and all(p > 100 for p in row["psnr"])
    with pytest.raises(ValueError, match="test holds no item"):
        ev.retime(ev.Method("net", "net", ("defocus",), cpu), by_kind, test[1:], per_kind=1)
    with pytest.raises(ValueError, match="per_kind"):
        ev.retime(ev.Method("net", "net", ("defocus",), cpu), by_kind, test, per_kind=0)


def test_test_time_restoration_in_a_numeric_mode_keeps_dropout_on():
    torch = pytest.importorskip("torch")
    from deblurkit.models.deblurgan import Generator

    torch.manual_seed(0)
    gen = Generator(ngf=4, n_blocks=1, dropout=0.5)
    image = [np.random.default_rng(0).uniform(size=(16, 20, 3))]
    plain = testtime.restore_images(gen, image, seeds=[1])[0]
    assert np.array_equal(testtime.restore_images(gen, image, seeds=[1], mode="fp32")[0], plain)
    assert np.allclose(testtime.restore_images(gen, image, seeds=[1], mode="fp32-cl")[0], plain, atol=1e-5)
    bf16 = testtime.restore_images(gen, image, seeds=[1], mode="bf16")[0]
    assert np.abs(bf16 - plain).max() < 0.05  # bf16 rounding only: the same masks
    off = testtime.restore_images(gen, image, seeds=[1], mode="bf16", dropout=False)[0]
    assert np.abs(off - bf16).max() > 0.05  # dropout on in the mode too
    assert gen.training
    with pytest.raises(ValueError, match="mode"):
        testtime.restore_images(gen, image, seeds=[1], mode="tf32-cl")  # a CUDA mode on the CPU
