"""Numeric modes of the generator: labels, switches, timing, and the --precision auto choice."""

import pytest

torch = pytest.importorskip("torch")

from deblurkit.models.deblurgan import Generator  # noqa: E402
from deblurkit.training import inference  # noqa: E402


def test_the_tf32_mode_is_labelled_as_such_and_exists_on_cuda_only():
    assert "TF32" in inference.LABELS["tf32-cl"] and "float32" == inference.LABELS["fp32"]
    assert "tf32-cl" not in inference.available_modes("cpu") and "tf32-cl" in inference.available_modes("cuda")
    with pytest.raises(ValueError, match="mode"):
        with inference.numeric_mode("tf32-cl", "cpu"):
            pass


def test_numeric_mode_sets_autocast_and_restores_the_tf32_switches():
    before = torch.backends.cudnn.allow_tf32
    with inference.numeric_mode("bf16-cl", "cpu"):
        assert torch.is_autocast_enabled("cpu") and not torch.backends.cudnn.allow_tf32
    assert torch.backends.cudnn.allow_tf32 == before and not torch.is_autocast_enabled("cpu")


def test_modes_restore_close_to_float32_and_time_a_frame():
    torch.manual_seed(0)
    gen = Generator(4, 1)
    x = torch.rand(1, 3, 20, 24) * 2 - 1
    exact = inference.restore(gen, x, "fp32", "cpu")
    assert torch.allclose(inference.restore(gen, x, "fp32-cl", "cpu"), exact, atol=1e-5)
    assert (inference.restore(gen, x, "bf16", "cpu") - exact).abs().max() < 0.05
    assert inference.frame_ms(gen, (16, 16), "bf16", "cpu", repeat=1, warmup=0) > 0


def test_auto_takes_the_fastest_mode_within_the_tolerance_of_float32(monkeypatch):
    sharp = torch.zeros(2, 3, 8, 8)
    error = {"fp32": 0.010, "fp32-cl": 0.010, "bf16": 0.0103, "bf16-cl": 0.0200}  # bf16: -0.26 dB, bf16-cl: -6 dB
    ms = {"fp32": 10.0, "fp32-cl": 9.0, "bf16": 5.0, "bf16-cl": 4.0}
    monkeypatch.setattr(inference, "restore", lambda g, b, mode, d: sharp + 2 * error[mode])
    monkeypatch.setattr(inference, "frame_ms", lambda g, shape, mode, d, **kw: ms[mode])
    got = inference.choose_mode(None, sharp, sharp, "cpu")
    assert got["chosen"] == "fp32-cl"  # bf16 is faster but loses 0.26 dB > 0.05 dB
    assert inference.choose_mode(None, sharp, sharp, "cpu", tolerance_db=0.3)["chosen"] == "bf16"
    assert got["psnr"]["fp32"] == pytest.approx(40.0)
