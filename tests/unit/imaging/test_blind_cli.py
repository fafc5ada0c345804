"""The command line ``python -m deblurkit.blind deblur``: grey and colour, 8 and 16 bit, one-line errors."""

import subprocess
import sys

import numpy as np
import pytest
from deblurkit import blind as cli
from deblurkit.imaging import psf
from deblurkit.imaging.blur import add_gaussian_noise, camera_blur
from skimage import io


@pytest.fixture(scope="module")
def blurred(camera64):
    scene = np.kron(camera64, np.ones((2, 2)))  # 128 px
    return add_gaussian_noise(camera_blur(scene, psf.linear_motion_psf(5, 20.0, size=7), 100), 0.005, 0, clip=True)


@pytest.mark.parametrize(
    ("colour", "dtype", "ext"), [(False, np.uint8, "png"), (False, np.uint16, "png"), (True, np.uint8, "png"), (True, np.uint16, "tif")]
)
def test_deblur_writes_same_kind_and_depth(tmp_path, blurred, colour, dtype, ext):
    img = np.stack([blurred, blurred * 0.9, blurred * 0.8], axis=2) if colour else blurred
    io.imsave(tmp_path / f"in.{ext}", (img * np.iinfo(dtype).max).round().astype(dtype), check_contrast=False)
    code = cli._main(["deblur", str(tmp_path / f"in.{ext}"), str(tmp_path / f"out.{ext}"), "--kernel-size", "9", "--kernel-out", str(tmp_path / "k.png")])
    assert code == 0
    out = io.imread(tmp_path / f"out.{ext}")
    assert out.shape == img.shape and out.dtype == dtype
    assert np.abs(out / np.iinfo(dtype).max - img).mean() < 0.1  # a restoration of the input, not noise
    kernel = io.imread(tmp_path / "k.png")
    assert kernel.shape == (9, 9) and kernel.max() == 255


def test_missing_and_unreadable_files_answer_in_one_line(tmp_path):
    (tmp_path / "bad.png").write_text("not an image")
    for path, words in [(tmp_path / "none.png", "image not found"), (tmp_path / "bad.png", "cannot read")]:
        done = subprocess.run(
            [sys.executable, "-m", "deblurkit.blind", "deblur", str(path), str(tmp_path / "out.png")],
            check=False, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and lines[0].startswith("error:")


def test_sixteen_bit_colour_png_output_is_refused_in_one_line(tmp_path, blurred, capsys):
    img = np.stack([blurred] * 3, axis=2)
    io.imsave(tmp_path / "in.tif", (img * 65535).astype(np.uint16), check_contrast=False)
    assert cli._main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "out.png"), "--kernel-size", "9"]) == 2
    assert "name a .tif output" in capsys.readouterr().err


def test_kernel_weight_and_weight_options_reach_the_method(tmp_path, blurred, monkeypatch):
    io.imsave(tmp_path / "in.png", (blurred * 255).round().astype(np.uint8), check_contrast=False)
    seen = {}
    real = cli.blind_deconvolve

    def spy(image, kernel_size, **options):
        seen.update(options)
        return real(image, kernel_size, **options)

    monkeypatch.setattr(cli, "blind_deconvolve", spy)
    args = ["deblur", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--kernel-size", "9"]
    assert cli._main(args + ["--kernel-weight", "2.5", "--weight", "300"]) == 0
    assert seen["kernel_weight"] == 2.5 and seen["weight"] == 300.0
    assert cli._main(args) == 0  # the defaults are the library's
    assert seen["kernel_weight"] == cli.KERNEL_WEIGHT and seen["weight"] == cli.WEIGHT


@pytest.mark.parametrize("value", ["0", "-1", "nan", "abc"])
def test_non_positive_weights_are_refused(tmp_path, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli._main(["deblur", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--weight", value])
    assert exit_info.value.code == 2
    assert "--weight" in capsys.readouterr().err
