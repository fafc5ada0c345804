"""The torch data sets and loaders: epochs travel with the sampler, batches resume, frames are cached."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deblurkit.training import datasets


def shake(**kw):
    return datasets.ShakeBlurDataset(["camera", "astronaut"], crop=16, length=8, max_shake=5.0, seed=3, scale=0.25, **kw)


def test_epoch_batches_follow_the_distributed_sampler_and_resume_at_any_batch():
    for rank in (0, 1):
        sampler = datasets.EpochBatchSampler(10, 2, seed=4, rank=rank, world_size=2)
        got = [b for _, b in zip(range(6), sampler)]
        want = []
        for epoch in (0, 1, 2):
            order = torch.utils.data.DistributedSampler(range(10), num_replicas=2, rank=rank, shuffle=True, seed=4)
            order.set_epoch(epoch)
            idx = list(order)
            want += [[(epoch, i) for i in idx[p * 2 : p * 2 + 2]] for p in range(2)]  # 5 per rank: 2 batches, 1 dropped
        assert got == want[:6]
        later = datasets.EpochBatchSampler(10, 2, seed=4, rank=rank, world_size=2, start=3)
        assert [b for _, b in zip(range(3), later)] == got[3:6]
    with pytest.raises(ValueError, match="batch must be at most"):
        datasets.EpochBatchSampler(3, 4)


def test_persistent_workers_draw_each_epoch_from_the_sampler_not_from_set_epoch():
    ds = shake()
    sampler = datasets.EpochBatchSampler(len(ds), 4, seed=0)
    loader = datasets.make_loader(ds, sampler, workers=2, device="cpu", collate_fn=datasets.collate_pairs)
    assert loader.persistent_workers and not loader.pin_memory
    it = iter(loader)
    batches = [next(it) for _ in range(4)]  # epochs 0 and 1, two batches each
    expected = [datasets.collate_pairs([ds[pair] for pair in b]) for _, b in zip(range(4), datasets.EpochBatchSampler(len(ds), 4, seed=0))]
    for (b, s), (eb, es) in zip(batches, expected):
        assert torch.equal(b, eb) and torch.equal(s, es)
    # epoch 1 is new data: the same indices drawn in epoch 0 give other crops
    epoch1 = [b for _, b in zip(range(4), datasets.EpochBatchSampler(len(ds), 4, seed=0))][2]
    assert {e for e, _ in epoch1} == {1}
    assert not torch.equal(batches[2][1], torch.stack([ds[(0, i)][1] for _, i in epoch1]))
    del it


def test_a_loader_takes_nothing_from_the_global_random_state_and_pins_memory_for_cuda():
    ds = shake()
    torch.manual_seed(0)
    before = torch.get_rng_state()
    loader = datasets.make_loader(ds, datasets.EpochBatchSampler(len(ds), 2), workers=0, device="cpu", collate_fn=datasets.collate_pairs)
    next(iter(loader))
    assert torch.equal(torch.get_rng_state(), before)
    assert datasets.make_loader(ds, datasets.EpochBatchSampler(len(ds), 2), workers=0, device="cuda").pin_memory


def test_choice_batches_resume_the_same_sequence():
    full = [b for _, b in zip(range(5), datasets.ChoiceBatchSampler(30, 4, seed=1, rank=1))]
    generator = np.random.default_rng([1, 1, 0])
    assert full == [generator.choice(30, size=4, replace=False).tolist() for _ in range(5)]
    assert [b for _, b in zip(range(2), datasets.ChoiceBatchSampler(30, 4, seed=1, rank=1, start=3))] == full[3:]


def test_nonuniform_samples_are_the_rows_of_batch_tensors():
    rng = np.random.default_rng(0)
    data = {"blurred": rng.uniform(size=(3, 8, 8)).astype(np.float32), "sharp_padded": rng.uniform(size=(3, 12, 12)).astype(np.float32),
            "kernels": rng.uniform(size=(3, 2, 5, 5)).astype(np.float32), "weights": rng.uniform(size=(3, 2, 8, 8)).astype(np.float32)}
    samples = datasets.NonUniformBlurSamples(data)
    batch = datasets.training_tensors(torch.utils.data.default_collate([samples[2], samples[0]]), "cpu")
    whole = datasets.batch_tensors(data, [2, 0], "cpu")
    assert batch.keys() == whole.keys() and all(torch.equal(batch[k], whole[k]) for k in whole)
    with pytest.raises(ValueError, match="lacks"):
        datasets.NonUniformBlurSamples({"blurred": data["blurred"]})


def write_gopro(root, frames=2, side=40):
    from skimage import io

    rng = np.random.default_rng(0)
    for seq in ("GOPR0001", "GOPR0002"):
        for kind in ("blur", "sharp"):
            (root / "train" / seq / kind).mkdir(parents=True)
            for f in range(frames):
                io.imsave(root / "train" / seq / kind / f"{f:06d}.png", rng.integers(0, 256, (side, side + 8, 3), dtype=np.uint8), check_contrast=False)
    (root / "test").mkdir()
    return root


def test_cached_gopro_frames_are_the_decoded_ones_and_a_step_reads_no_png(tmp_path, monkeypatch):
    root = write_gopro(tmp_path / "GoPro")
    plain = datasets.GoProDataset(root, crop=16, length=6)
    cached = datasets.GoProDataset(root, crop=16, length=6, cache=datasets.FrameCache(tmp_path / "cache")).prepare()
    expected = [plain[(1, i)] for i in range(6)]

    def no_png(path):
        raise AssertionError(f"a training step decoded {path}")

    monkeypatch.setattr(datasets, "read_rgb", no_png)
    for i, (b, s, _) in enumerate(expected):
        cb, cs, _ = cached[(1, i)]
        assert torch.equal(cb, b) and torch.equal(cs, s)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 8
    monkeypatch.undo()
    # an edited frame is decoded again (the cache key holds its size and modification time)
    frame = next((root / "train" / "GOPR0001" / "blur").glob("*.png"))
    cache = datasets.FrameCache(tmp_path / "cache")
    old = cache.path_of(frame)
    frame.write_bytes(frame.read_bytes() + b"\0")
    assert cache.path_of(frame) != old
