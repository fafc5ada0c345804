import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deblurkit.book import checkpoints  # noqa: E402
from deblurkit import data
from deblurkit import deblurgan as dg_cli
from deblurkit.imaging import blur
from deblurkit.imaging import psf
from deblurkit.models import deblurgan as dg
from deblurkit.models import torch_ops
from deblurkit.training import deblurgan as dg_train
from deblurkit.training import torchtrain

TINY = {"steps": 2, "batch": 2, "crop": 32, "ngf": 4, "n_blocks": 1, "ndf": 4, "max_shake": 5.0, "image_scale": 0.25}


def by_hand_generator_parameters(ngf=64, n_blocks=9):
    """k*k*c_in*c_out + c_out per convolution, from the paper's Figure 3 layer list."""
    convs = [(7, 3, ngf), (3, ngf, 2 * ngf), (3, 2 * ngf, 4 * ngf)]
    convs += [(3, 4 * ngf, 4 * ngf)] * (2 * n_blocks)
    convs += [(3, 4 * ngf, 2 * ngf), (3, 2 * ngf, ngf), (7, ngf, 3)]
    return sum(k * k * i * o + o for k, i, o in convs)


def test_paper_networks_have_the_paper_parameter_counts():
    assert torch_ops.count_parameters(dg.Generator()) == 11_378_179 == by_hand_generator_parameters()
    assert torch_ops.count_parameters(dg.Critic()) == 2_764_737
    assert torch_ops.count_parameters(dg.Generator(16, 3)) == by_hand_generator_parameters(16, 3)


def test_critic_maps_256_pixels_to_35_by_35_patch_scores():
    assert dg.Critic(8)(torch.zeros(2, 3, 256, 256)).shape == (2, 1, 35, 35)


@pytest.mark.parametrize("shape", [(64, 64), (250, 333), (33, 18)])
def test_generator_output_has_the_input_shape_and_range(shape):
    g = dg.Generator(4, 1).eval()
    x = torch.rand(1, 3, *shape) * 2 - 1
    y = g(x)
    # independent reference: the residual network on the input reflect-padded to a multiple of 4
    # (two stride-2 stages), cropped back, added to the input and clamped
    h, w = shape
    padded = torch.nn.functional.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="reflect") if (h % 4 or w % 4) else x
    expected = torch.clamp(x + g.model(padded)[..., :h, :w], -1, 1)
    assert y.shape == x.shape and torch.allclose(y, expected, atol=1e-6)
    assert not torch.allclose(y, torch.clamp(x, -1, 1))  # the residual is not zero at initialisation


def test_zero_weights_make_the_generator_the_identity():
    g = dg.Generator(4, 2)
    for p in g.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 3, 37, 41) * 2 - 1
    assert torch.equal(g.eval()(x), x)


def test_generator_rejects_bad_input_and_arguments():
    with pytest.raises(ValueError, match=r"blurred must have shape \(N, 3, H, W\)"):
        dg.Generator(4, 1)(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="dropout"):
        dg.Generator(dropout=1.0)
    with pytest.raises(ValueError, match="ngf"):
        dg.Generator(ngf=0)


def test_vgg_layers_carry_torchvision_indices_and_load_its_state_dict(tmp_path):
    vgg = dg.VGG19Conv33()
    assert [i for i, m in enumerate(vgg.features) if isinstance(m, torch.nn.Conv2d)] == [0, 2, 5, 7, 10, 12, 14]
    assert isinstance(vgg.features[-1], torch.nn.Conv2d)  # conv3_3 before its ReLU
    # a torchvision-style state dict: "features.<i>.weight", classifier keys ignored
    fake = {f"features.{k}": v.clone().normal_() for k, v in vgg.features.state_dict().items()}
    fake["classifier.0.weight"] = torch.zeros(1)
    torch.save(fake, tmp_path / "vgg19.pth")
    loaded = dg.VGG19Conv33().load_torchvision_weights(tmp_path / "vgg19.pth")
    assert torch.equal(loaded.features[14].weight, fake["features.14.weight"])
    torch.save({"x": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a torchvision vgg19"):
        dg.VGG19Conv33().load_torchvision_weights(tmp_path / "other.pth")


def test_content_loss_never_switches_silently(tmp_path, monkeypatch):
    monkeypatch.delenv(dg.VGG19_ENV, raising=False)
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))
    assert dg.default_content_loss() == "pixel-l1"
    with pytest.raises(FileNotFoundError, match="needs VGG19 ImageNet weights"):
        dg.ContentLoss("perceptual")
    a, b = torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.5)
    assert float(dg.ContentLoss("pixel-l1")(a, b)) == pytest.approx(0.5)
    vgg = dg.VGG19Conv33()
    torch.save({f"features.{k}": v for k, v in vgg.features.state_dict().items()}, tmp_path / "w.pth")
    monkeypatch.setenv(dg.VGG19_ENV, str(tmp_path / "w.pth"))
    assert dg.default_content_loss() == "perceptual"
    assert float(dg.ContentLoss("perceptual")(a, a)) == 0.0


def test_critic_loss_penalises_gradient_norms_away_from_one():
    # D(x) = mean of c * x over pixels: its gradient norm is |c| / sqrt(n) for every input
    class Linear(torch.nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c = c

        def forward(self, x):
            return (self.c * x).flatten(1).mean(dim=1, keepdim=True)[..., None, None]

    real, fake = torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    n = 3 * 4 * 4
    loss, w = dg.critic_loss(Linear(float(np.sqrt(n))), real, fake, gp_weight=10.0)
    assert w == pytest.approx(np.sqrt(n)) and float(loss.detach()) == pytest.approx(-np.sqrt(n), abs=1e-4)
    loss, w = dg.critic_loss(Linear(3 * float(np.sqrt(n))), real, fake, gp_weight=10.0)
    assert float(loss.detach()) == pytest.approx(-w + 10 * 4.0, rel=1e-5)  # (3 - 1)^2 = 4


def test_shake_data_are_deterministic_blurred_and_in_range():
    ds = dg_train.ShakeBlurDataset(["camera", "astronaut"], crop=32, length=4, max_shake=7.0, seed=3, scale=0.25)
    b1, s1, k1 = ds[1]
    b2, s2, k2 = ds[1]
    assert torch.equal(b1, b2) and np.array_equal(k1, k2)
    assert b1.shape == s1.shape == (3, 32, 32) and -1 <= float(b1.min()) and float(b1.max()) <= 1
    assert k1.sum() == pytest.approx(1.0) and k1.shape[0] % 2 == 1
    assert float((b1 - s1).abs().mean()) > 0.01  # blurred differs from sharp
    ds.set_epoch(1)
    assert not torch.equal(ds[1][1], s1)


def test_shake_blur_is_a_valid_convolution():
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(0)
    big = rng.uniform(size=(40, 50))
    k = psf.random_shake_kernel(9, rng, max_length=6)
    assert np.allclose(blur.camera_blur(big, k, (big.shape[0] - 8, big.shape[1] - 8)), fftconvolve(big, k, mode="valid"), atol=1e-12)


def test_gopro_layout_is_paired_exactly(tmp_path):
    from skimage import io

    for seq in ("GOPR0001", "GOPR0002"):
        for kind in ("blur", "sharp"):
            (tmp_path / "train" / seq / kind).mkdir(parents=True)
            io.imsave(tmp_path / "train" / seq / kind / "000001.png", np.zeros((40, 40, 3), np.uint8), check_contrast=False)
    pairs = data.gopro_pairs(tmp_path, "train")
    assert len(pairs) == 2 and all(b.parent.name == "blur" and s.parent.name == "sharp" and b.name == s.name for b, s in pairs)
    ds = dg_train.GoProDataset(tmp_path, crop=32)
    assert ds[0][0].shape == (3, 32, 32)
    with pytest.raises(FileNotFoundError, match="GoPro folder not found"):
        data.gopro_pairs(tmp_path, "test")
    io.imsave(tmp_path / "train" / "GOPR0001" / "blur" / "000002.png", np.zeros((40, 40, 3), np.uint8), check_contrast=False)
    with pytest.raises(ValueError, match="has no sharp twin"):
        data.gopro_pairs(tmp_path, "train")


def fake_gopro(root, train=("GOPR0001", "GOPR0002", "GOPR0003"), test=("GOPR0100",), frames=2, side=40):
    """A GoPro tree whose sharp frames are the constant 10 * (sequence number) + frame number."""
    from skimage import io

    for split, seqs in (("train", train), ("test", test)):
        for seq in seqs:
            for kind in ("blur", "sharp"):
                (root / split / seq / kind).mkdir(parents=True)
                for f in range(frames):
                    value = 10 * (int(seq[-2:]) % 25) + f
                    img = np.full((side, side, 3), value, np.uint8)
                    io.imsave(root / split / seq / kind / f"{f:06d}.png", img, check_contrast=False)
    return root


def test_gopro_is_found_by_argument_or_under_the_data_root_and_a_broken_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBLURKIT_DATA", str(tmp_path))
    assert data.find_gopro() is None  # nothing there: the chapter falls back, and says so
    fake_gopro(tmp_path / "GoPro")
    assert data.find_gopro() == tmp_path / "GoPro"
    assert data.find_gopro(tmp_path / "GoPro") == tmp_path / "GoPro"
    with pytest.raises(FileNotFoundError, match="GoPro folder not found"):
        data.find_gopro(tmp_path / "elsewhere")
    (tmp_path / "GoPro" / "test").rename(tmp_path / "GoPro" / "tst")
    with pytest.raises(FileNotFoundError, match="has no test/ folder"):
        data.find_gopro()


def test_gopro_validation_is_carved_from_training_sequences_never_test(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))  # the decoded-frame cache of training
    root = fake_gopro(tmp_path)
    parts = data.gopro_split(root)
    assert parts == {"train": ["GOPR0001", "GOPR0002"], "validation": ["GOPR0003"], "test": ["GOPR0100"]}
    config = dg_train.TrainConfig(profile="smoke", **TINY, gopro_root=str(root), validation_count=3)
    assert {b.parts[-3] for b, _ in dg_train.training_pairs(config)} == {"GOPR0001", "GOPR0002"}
    sixth = dg_train.TrainConfig(**{**config.__dict__, "image_fraction": 1 / 6})
    assert len(dg_train.training_pairs(sixth)) == 1 and len(dg_train.training_pairs(config)) == 4
    # validation crops are the validation sequence's frames (values 30, 31), none of train or test
    _, val_sharp = dg_train.validation_set(config)
    values = {round(v) for v in ((val_sharp.flatten(1).mean(1) + 1) / 2 * 255).tolist()}
    assert val_sharp.shape == (3, 3, 32, 32) and values <= {30, 31}
    train_set = dg_train.training_dataset(config)
    seen = {round(float((train_set[i][1].mean() + 1) / 2 * 255)) for i in range(len(train_set))}
    assert seen == {10, 11, 20, 21}
    result = dg_train.train(dg_train.TrainConfig(**{**config.__dict__, "validate_every": 1}), progress=False)
    assert len(result["history"]["val_psnr"]) == 2 and all(np.isfinite(result["history"]["content"]))
    with pytest.raises(ValueError, match="validation needs a second one"):
        data.gopro_split(fake_gopro(tmp_path / "one", train=("GOPR0001",)))


def test_gopro_frames_smaller_than_a_crop_are_reported(tmp_path):
    root = fake_gopro(tmp_path, side=20)
    with pytest.raises(ValueError, match="smaller than a 32-px crop"):
        dg_train.GoProDataset(root, crop=32)[0]


def test_training_runs_and_a_resumed_run_continues_the_same_curve(tmp_path, monkeypatch):
    settings = dict(profile="smoke", **{**TINY, "steps": 4}, validate_every=2, validation_count=2)
    straight = dg_train.train(dg_train.TrainConfig(**settings), progress=False)
    assert all(np.isfinite(straight["history"]["content"])) and len(straight["history"]["val_psnr"]) == 2

    class Interrupted(Exception):
        pass

    save = torchtrain.save_checkpoint

    def save_then_crash(path, **kw):
        save(path, **kw)
        raise Interrupted

    config = dg_train.TrainConfig(**settings, checkpoint=str(tmp_path / "g.pt"), checkpoint_every=2)
    monkeypatch.setattr(torchtrain, "save_checkpoint", save_then_crash)
    with pytest.raises(Interrupted):
        dg_train.train(config, progress=False)  # dies right after writing the checkpoint of step 2
    monkeypatch.setattr(torchtrain, "save_checkpoint", save)
    resumed = dg_train.train(config, resume=True, progress=False)
    assert resumed["steps"] == 4
    assert resumed["history"]["content"] == straight["history"]["content"]
    for a, b in zip(resumed["generator"].parameters(), straight["generator"].parameters()):
        assert torch.equal(a, b)


def test_two_processes_end_with_identical_weights(tmp_path):
    """torchrun with 2 CPU processes (gloo): DDP keeps the replicas equal, losses stay finite."""
    out = tmp_path / "ddp.pt"
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, torch\n"
        "from deblurkit.training import deblurgan as dg_train\n"
        f"cfg = dg_train.TrainConfig(profile='smoke', **{TINY!r}, validate_every=2, validation_count=2, device='cpu')\n"
        "r = dg_train.train(cfg, progress=False)\n"
        "import os, numpy as np\n"
        "assert all(np.isfinite(r['history']['content'])) and r['world_size'] == 2\n"
        f"torch.save(r['last_generator'].state_dict(), r'{out}' + os.environ['RANK'])\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DEBLURKIT_QUIET": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = torch.load(f"{out}0"), torch.load(f"{out}1")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    untrained = dg.Generator(TINY["ngf"], TINY["n_blocks"]).state_dict()
    assert any(not torch.equal(a[k], untrained[k]) for k in a)


def test_command_line_deblurs_any_size_and_reports_bad_paths(tmp_path, capsys):
    from skimage import io

    ckpt = tmp_path / "g.pt"
    cfg = dg_train.TrainConfig(profile="smoke", **TINY, validate_every=2, validation_count=2, checkpoint=str(ckpt))
    dg_train.train(cfg, progress=False)
    io.imsave(tmp_path / "in.png", (np.random.default_rng(0).uniform(size=(45, 61, 3)) * 255).astype(np.uint8), check_contrast=False)
    assert dg_cli._main(["deblur", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--checkpoint", str(ckpt)]) == 0
    assert io.imread(tmp_path / "out.png").shape == (45, 61, 3)
    capsys.readouterr()
    auto = ["deblur", str(tmp_path / "in.png"), str(tmp_path / "auto.png"), "--checkpoint", str(ckpt), "--precision", "auto"]
    assert dg_cli._main(auto) == 0 and io.imread(tmp_path / "auto.png").shape == (45, 61, 3)
    assert "precision auto:" in capsys.readouterr().out  # chosen on validation crops, and said so
    assert dg_cli._main(["deblur", str(tmp_path / "missing.png"), str(tmp_path / "o.png"), "--checkpoint", str(ckpt)]) == 2
    (tmp_path / "bad.png").write_text("not an image")
    capsys.readouterr()
    assert dg_cli._main(["deblur", str(tmp_path / "bad.png"), str(tmp_path / "o.png"), "--checkpoint", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read") and err.count("\n") == 1  # one line
    if not torch.cuda.is_available():
        assert dg_cli._main(["deblur", str(tmp_path / "in.png"), str(tmp_path / "o.png"), "--checkpoint", str(ckpt), "--device", "cuda"]) == 2
        assert capsys.readouterr().err == f"error: device 'cuda' asked for, but no CUDA device is available to torch {torch.__version__}\n"
    torchtrain.save_checkpoint(tmp_path / "lin.pt", models={"generator": torch.nn.Linear(2, 2)},
                               metadata=checkpoints.checkpoint_metadata(chapter="x", profile="smoke", seed=0, steps=0, wall_seconds=0,
                                                                       device="cpu", architecture={"generator": {"ngf": 4, "n_blocks": 2, "dropout": 0.5}}))
    assert dg_cli._main(["deblur", str(tmp_path / "in.png"), str(tmp_path / "o.png"), "--checkpoint", str(tmp_path / "lin.pt")]) == 2


def test_command_line_restores_with_dropout_on_as_the_chapters_and_the_authors_test_code(tmp_path, capsys):
    """KupynOrest/DeblurGAN's models/test_model.py builds the generator with dropout and never
    calls eval(); chapters 6 and 8 restore so, with seeded masks (testtime.restore_images). The
    command line does the same, its masks drawn from --seed; --dropout off is evaluation mode."""
    from deblurkit.data.external import read_rgb
    from deblurkit.evaluation import testtime
    from skimage import io

    torch.manual_seed(0)
    arch = {"ngf": 4, "n_blocks": 1, "dropout": 0.5}  # not trained: dropout changes every pixel
    meta = checkpoints.checkpoint_metadata(chapter="x", profile="smoke", seed=0, steps=0, wall_seconds=0, device="cpu",
                                           architecture={"generator": arch})
    ckpt = torchtrain.save_checkpoint(tmp_path / "g.pt", models={"generator": dg.Generator(**arch)}, metadata=meta)
    io.imsave(tmp_path / "in.png", (np.random.default_rng(0).uniform(size=(24, 28, 3)) * 255).astype(np.uint8), check_contrast=False)

    def deblur(name, *options):
        assert dg_cli._main(["deblur", str(tmp_path / "in.png"), str(tmp_path / name), "--checkpoint", str(ckpt), *options]) == 0
        return io.imread(tmp_path / name).astype(int)

    default = deblur("default.png")
    assert "dropout on, masks from seed 0" in capsys.readouterr().out
    G, image = dg_train.load_generator(ckpt), read_rgb(tmp_path / "in.png")
    chapter = testtime.restore_images(G, [image], seeds=[0])[0]
    assert np.array_equal(default, (chapter * 255).round().astype(int))  # the chapters' restoration
    assert np.array_equal(deblur("again.png", "--seed", "0"), default)
    assert not np.array_equal(deblur("seed1.png", "--seed", "1"), default)
    off = deblur("off.png", "--dropout", "off")
    assert np.array_equal(off, (dg.deblur_image(G, image) * 255).round().astype(int))  # evaluation mode
    assert np.abs(off - default).max() > 2
    assert np.abs(deblur("bf16.png", "--precision", "bf16") - default).max() <= 3  # the same masks, bf16 rounding
    assert dg_cli._main(["deblur", str(tmp_path / "in.png"), str(tmp_path / "o.png"), "--checkpoint", str(ckpt), "--seed", "-1"]) == 2


def test_the_whole_wgan_gp_step_runs_under_autocast_with_the_penalty_reduced_in_float32():
    """precision="bf16": the critic's convolutions (its five steps and the generator step's
    scores) and the generator's run in bf16; "auto" on the CPU keeps everything in float32."""
    for precision, expected in (("bf16", {torch.bfloat16}), ("auto", {torch.float32})):
        seen = []

        def hook(module, args, out, seen=seen):
            if isinstance(module, torch.nn.Conv2d) and module.training:
                seen.append((id(module), out.dtype))

        handle = torch.nn.modules.module.register_module_forward_hook(hook)
        try:
            config = dg_train.TrainConfig(profile="smoke", **{**TINY, "steps": 1}, validate_every=1, validation_count=2, device="cpu", precision=precision)
            r = dg_train.train(config, progress=False)
        finally:
            handle.remove()
        critic = {id(m) for m in r["critic"].modules()}
        generator = {id(m) for m in r["last_generator"].modules()}
        assert {d for i, d in seen if i in critic} == expected and {d for i, d in seen if i in generator} == expected
        assert np.isfinite(r["history"]["critic_loss"]).all()
    torch.manual_seed(0)
    critic = dg.Critic(4)
    real, fake = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    torch.manual_seed(1)
    exact, w_exact = dg.critic_loss(critic, real, fake)
    torch.manual_seed(1)
    with torch_ops.autocast("cpu", "bf16"):
        low, w_low = dg.critic_loss(critic, real, fake)
    assert low.dtype == torch.float32  # the penalty and the scores' means in float32
    assert float(low) == pytest.approx(float(exact), rel=0.02) and w_low == pytest.approx(w_exact, abs=0.02)
