import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deblurkit import adaptive_basis as ab_cli  # noqa: E402
from deblurkit.book import checkpoints
from deblurkit import data
from deblurkit.imaging import nonuniform
from deblurkit.models import adaptive_basis as ab
from deblurkit.models import torch_ops
from deblurkit.training import adaptive_basis as ab_train
from deblurkit.training import torchtrain

CPU_SIZE = {"in_channels": 1, "basis": 8, "kernel_size": 17, "base": 16}


def test_paper_size_has_about_80_million_parameters():
    n = ab.parameter_count(**ab.PAPER_ARCHITECTURE)
    assert n == 79_828_658
    assert ab.parameter_count(**{**ab.PAPER_ARCHITECTURE, "in_channels": 1}) == n - 2 * 64 * 9


def test_cpu_size_parameter_count_and_output_shapes():
    torch.manual_seed(0)
    net = ab.AdaptiveBasisNet(**CPU_SIZE)
    assert torch_ops.count_parameters(net) == 4_988_352
    kernels, weights = net(torch.zeros(2, 1, 64, 96))
    assert kernels.shape == (2, 8, 17, 17) and weights.shape == (2, 8, 64, 96)
    assert torch.allclose(kernels.sum(dim=(2, 3)), torch.ones(2, 8), atol=1e-5)
    assert torch.allclose(weights.sum(dim=1), torch.ones(2, 64, 96), atol=1e-5)


@pytest.mark.parametrize("size", [9, 33])
def test_kernel_head_reaches_every_supported_size(size):
    net = ab.AdaptiveBasisNet(in_channels=3, basis=2, kernel_size=size, base=2)
    kernels, weights = net(torch.zeros(1, 3, 32, 32))
    assert kernels.shape == (1, 2, size, size) and weights.shape == (1, 2, 32, 32)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"kernel_size": 21}, "kernel_size"), ({"basis": 0}, "basis"), ({"in_channels": 2}, "in_channels"), ({"base": 1.5}, "base")],
)
def test_bad_architecture_names_the_parameter(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        ab.AdaptiveBasisNet(**kwargs)


def test_input_sides_must_be_divisible_by_32():
    with pytest.raises(ValueError, match="divisible by 32"):
        ab.AdaptiveBasisNet(basis=2, kernel_size=5, base=2)(torch.zeros(1, 1, 40, 32))


@pytest.mark.parametrize("mode", nonuniform.MODES)
def test_torch_operator_matches_numpy_and_its_adjoint_is_exact(mode):
    g = torch.Generator().manual_seed(0)
    k = torch.rand(2, 3, 9, 9, generator=g, dtype=torch.float64)
    k = k / k.sum(dim=(2, 3), keepdim=True)
    m = torch.rand(2, 3, 20, 24, generator=g, dtype=torch.float64)
    m = m / m.sum(dim=1, keepdim=True)
    grow = 8 if mode == "valid" else 0
    x = torch.rand(2, 1, 20 + grow, 24 + grow, generator=g, dtype=torch.float64)
    r = torch.rand(2, 1, 20, 24, generator=g, dtype=torch.float64)
    ax = torch_ops.blur_nonuniform_torch(x, k, m, mode=mode)
    atr = torch_ops.adjoint_nonuniform_torch(r, k, m, mode=mode)
    assert abs(float((ax * r).sum() - (x * atr).sum())) / float((ax * r).sum()) < 1e-10
    op = nonuniform.NonUniformBlur(k[1].numpy(), m[1].numpy(), mode=mode)
    assert np.abs(op.forward(x[1, 0].numpy()) - ax[1, 0].numpy()).max() < 1e-10
    assert np.abs(op.adjoint(r[1, 0].numpy()) - atr[1, 0].numpy()).max() < 1e-10


def test_kernel_loss_equals_the_per_pixel_definition():
    g = torch.Generator().manual_seed(1)
    k = torch.softmax(torch.rand(1, 4, 25, generator=g, dtype=torch.float64), -1).reshape(1, 4, 5, 5)
    m = torch.softmax(torch.rand(1, 4, 6, 7, generator=g, dtype=torch.float64), 1)
    t = torch.softmax(torch.rand(1, 2, 25, generator=g, dtype=torch.float64), -1).reshape(1, 2, 5, 5)
    tm = torch.softmax(torch.rand(1, 2, 6, 7, generator=g, dtype=torch.float64), 1)
    fields = torch.einsum("nbhw,nbij->nhwij", m, k) - torch.einsum("nbhw,nbij->nhwij", tm, t)
    assert torch.isclose(ab.kernel_loss(k, m, t, tm), (fields**2).sum(dim=(-2, -1)).mean())
    assert float(ab.kernel_loss(k, m, k, m)) < 1e-12
    assert np.isclose(float(ab.kernel_loss(k, m, t, tm)), nonuniform.kernel_error(k[0].numpy(), m[0].numpy(), t[0].numpy(), tm[0].numpy()))


def test_estimate_handles_any_image_size():
    net = ab.AdaptiveBasisNet(basis=3, kernel_size=9, base=2)
    kernels, weights = ab.estimate(net, np.full((40, 50), 0.5))
    assert kernels.shape == (3, 9, 9) and weights.shape == (3, 40, 50)
    assert np.allclose(weights.sum(axis=0), 1) and np.allclose(kernels.sum(axis=(1, 2)), 1)


def test_training_lowers_the_losses_and_saves_a_resumable_checkpoint(tmp_path):
    torch.manual_seed(0)
    images = [data.bundled_square("astronaut", 80)]
    train_set = data.nonuniform_blur_dataset(images, 8, crop_size=32, kernel_size=9, rng=0)
    dist = torchtrain.setup_distributed("cpu")
    arch = {"in_channels": 1, "basis": 3, "kernel_size": 9, "base": 4}
    net = torchtrain.prepare_model(ab.AdaptiveBasisNet(**arch), dist)
    meta = {"chapter": "05_adaptive_basis", "profile": "smoke", "seed": 0, "architecture": arch}
    path = tmp_path / "ab.pt"
    before = ab_train.mean_kernel_error(net, train_set, dist.device)
    result = ab_train.train_adaptive_basis(
        net, train_set, train_set, steps=6, batch_size=4, dist=dist, learning_rate=1e-3, eval_every=3, checkpoint=path, metadata=meta, show_progress=False
    )
    assert result["best_validation"] < before and len(result["history"]["validation"]) == 2
    assert checkpoints.require_checkpoint(path, chapter="05_adaptive_basis", profile="smoke", architecture=arch)["steps"] == 6
    # a resumed run continues from step 6 to 8
    again = torchtrain.prepare_model(ab.AdaptiveBasisNet(**arch), dist)
    resumed = ab_train.train_adaptive_basis(
        again, train_set, train_set, steps=8, batch_size=4, dist=dist, eval_every=2, checkpoint=path, metadata=meta, resume=True, show_progress=False
    )
    assert resumed["history"]["step"] == [3, 6, 8]


def test_he_initialisation_lets_the_kernels_depend_on_the_image():
    images = torch.from_numpy(np.stack([data.bundled_square(n, 32) for n in ("camera", "coins", "text")])[:, None]).float() - 0.5
    torch.manual_seed(0)
    default = ab.input_sensitivity(ab.AdaptiveBasisNet(basis=4, kernel_size=17, base=8, init="default"), images)
    torch.manual_seed(0)
    he = ab.input_sensitivity(ab.AdaptiveBasisNet(basis=4, kernel_size=17, base=8), images)
    assert he > 100 * default


def test_command_line_trains_and_resumes(tmp_path):
    path = tmp_path / "cli.pt"
    common = ["--basis", "2", "--kernel-size", "5", "--base", "2", "--crop", "32", "--count", "4", "--val-count", "2", "--batch", "2", "--eval-every", "1", "--device", "cpu", "--profile", "smoke", "--checkpoint", str(path)]
    first = ab_cli.main([*common, "--steps", "1"])
    assert first["steps"] == 1 and path.is_file()
    again = ab_cli.main([*common, "--steps", "2", "--resume"])
    assert again["history"]["step"] == [1, 2]


def test_load_trained_rebuilds_the_saved_network_and_refuses_another_profile(tmp_path):
    arch = {"in_channels": 1, "basis": 2, "kernel_size": 5, "base": 2}
    torch.manual_seed(3)
    net = ab.AdaptiveBasisNet(**arch)
    path = tmp_path / "05_adaptive_basis_smoke.pt"
    meta = checkpoints.checkpoint_metadata(
        chapter="05_adaptive_basis", profile="smoke", seed=0, steps=1, wall_seconds=0.1, device="cpu", architecture=arch
    )
    torchtrain.save_checkpoint(path, models={"model": net}, metadata=meta)
    loaded, record = ab_train.load_trained(path, profile="smoke")
    assert record["architecture"] == arch and not loaded.training
    x = torch.rand(1, 1, 32, 32)
    for a, b in zip(net.eval()(x), loaded(x)):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="05_adaptive_basis.*'cpu'"):
        ab_train.load_trained(path, profile="cpu")
    with pytest.raises(FileNotFoundError, match="05_adaptive_basis"):
        ab_train.load_trained(tmp_path / "missing.pt", profile="smoke")


def test_batch_norm_option_follows_every_convolution_but_the_heads_last_and_is_recorded(tmp_path):
    plain = ab.AdaptiveBasisNet(**CPU_SIZE)
    normed = ab.AdaptiveBasisNet(**CPU_SIZE, norm="batch")
    convs = [m for m in normed.modules() if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in normed.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == len(convs) - 2
    assert torch_ops.count_parameters(normed) - torch_ops.count_parameters(plain) == sum(2 * m.num_features for m in norms)
    assert normed.architecture == {**CPU_SIZE, "norm": "batch"} and plain.architecture == CPU_SIZE
    # in inference mode one image of any (divisible) size goes through
    kernels, weights = normed.eval()(torch.rand(1, 1, 64, 96))
    assert kernels.shape == (1, 8, 17, 17) and torch.isfinite(weights).all()
    path = tmp_path / "05_adaptive_basis_smoke.pt"
    meta = checkpoints.checkpoint_metadata(
        chapter="05_adaptive_basis", profile="smoke", seed=0, steps=1, wall_seconds=0.1, device="cpu", architecture=normed.architecture
    )
    torchtrain.save_checkpoint(path, models={"model": normed}, metadata=meta)
    loaded, _ = ab_train.load_trained(path, profile="smoke")
    x = torch.rand(1, 1, 32, 32)
    assert torch.equal(normed(x)[1], loaded(x)[1])
    with pytest.raises(ValueError, match="norm"):
        ab.AdaptiveBasisNet(**CPU_SIZE, norm="layer")


def test_step_size_decay_is_checked_and_follows_the_step(monkeypatch):
    images = [data.bundled_square("astronaut", 80)]
    train_set = data.nonuniform_blur_dataset(images, 4, crop_size=32, kernel_size=5, rng=0)
    dist = torchtrain.setup_distributed("cpu")
    arch = {"in_channels": 1, "basis": 2, "kernel_size": 5, "base": 2}
    with pytest.raises(ValueError, match="decay_fraction"):
        ab_train.train_adaptive_basis(ab.AdaptiveBasisNet(**arch), train_set, train_set, steps=2, batch_size=2, dist=dist, decay_fraction=1.5, show_progress=False)
    seen, original = [], torch.optim.Adam.step

    def record(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    net = ab.AdaptiveBasisNet(**arch)
    ab_train.train_adaptive_basis(net, train_set, train_set, steps=4, batch_size=2, dist=dist, learning_rate=1e-3, decay_fraction=1.0, show_progress=False)
    # decaying over all four steps: 1, 3/4, 1/2 and 1/4 of the step size
    assert np.allclose(seen, [1e-3, 0.75e-3, 0.5e-3, 0.25e-3])
