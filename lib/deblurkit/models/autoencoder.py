"""Chapter 3's convolutional autoencoder exactly as the report builds it (34,951,683 parameters),
its training settings, what Keras' "acc" computes for it, tiled restoration of larger images,
and the best linear code as a reference.
"""

from __future__ import annotations

import numpy as np

from ..data.bundled import as_rgb
from ..models.keras_ops import import_keras
from ..runtime import validate as _validate

#: The constructor arguments of the report's network (appendix of seed 002); also the
#: ``architecture`` record saved with a trained model.
REPORT_ARCHITECTURE = {
    "input_shape": [128, 128, 3],
    "latent_dim": 256,
    "layer_filters": [64, 128, 256],
    "kernel_size": 3,
}


#: Parameter counts of the report's Table 1.
REPORT_PARAMETERS = {"encoder": 17_148_288, "decoder": 17_803_395, "total": 34_951_683}


#: The report's training settings (appendix): optimiser, loss, metric and batch size.
REPORT_TRAINING = {"optimizer": "adam", "loss": "mse", "metrics": ["acc"], "batch_size": 32}


def build_report_autoencoder(
    input_shape=(128, 128, 3), latent_dim: int = 256, layer_filters=(64, 128, 256), kernel_size: int = 3
):
    """The report's encoder, decoder and autoencoder, as three Keras models.

    Encoder: one stride-2 ``kernel_size`` convolution per entry of ``layer_filters`` (ReLU, same
    padding), a flatten and a dense ``latent_dim`` vector. Decoder: a dense layer back to the
    encoder's last feature map, one stride-2 transposed convolution per filter count in reverse
    order (ReLU), and a transposed convolution to 3 channels with a sigmoid.

    Parameters
    ----------
    input_shape : tuple of int
        ``(rows, cols, channels)``; rows and cols divisible by ``2 ** len(layer_filters)``.
    latent_dim : int
        Size of the bottleneck vector.
    layer_filters : sequence of int
        Filters of the encoder's convolutions (the decoder mirrors them).
    kernel_size : int
        Side of every convolution kernel.

    Returns
    -------
    (keras.Model, keras.Model, keras.Model)
        ``encoder``, ``decoder`` and ``autoencoder = decoder(encoder(inputs))``. With the default
        arguments they hold :data:`REPORT_PARAMETERS` parameters.
    """

    if len(tuple(input_shape)) != 3:
        raise ValueError(f"input_shape must be (rows, cols, channels), got {input_shape!r}")
    rows, cols, channels = (_validate.integer(v, "input_shape", minimum=1) for v in input_shape)
    latent_dim = _validate.integer(latent_dim, "latent_dim", minimum=1)
    kernel_size = _validate.integer(kernel_size, "kernel_size", minimum=1)
    filters_list = [_validate.integer(f, "layer_filters", minimum=1) for f in layer_filters]
    if not filters_list:
        raise ValueError("layer_filters must name at least one convolution")
    factor = 2 ** len(filters_list)
    if rows % factor or cols % factor:
        raise ValueError(f"input rows and cols must be divisible by {factor}, got {rows}x{cols}")
    keras = import_keras()
    layers = keras.layers

    inputs = keras.Input(shape=(rows, cols, channels), name="encoder_input")
    x = inputs
    for filters in filters_list:
        x = layers.Conv2D(filters, kernel_size, strides=2, activation="relu", padding="same")(x)
    shape = tuple(x.shape[1:])
    latent = layers.Dense(latent_dim, name="latent_vector")(layers.Flatten()(x))
    encoder = keras.Model(inputs, latent, name="encoder")

    latent_inputs = keras.Input(shape=(latent_dim,), name="decoder_input")
    x = layers.Dense(shape[0] * shape[1] * shape[2])(latent_inputs)
    x = layers.Reshape(shape)(x)
    for filters in filters_list[::-1]:
        x = layers.Conv2DTranspose(filters, kernel_size, strides=2, activation="relu", padding="same")(x)
    outputs = layers.Conv2DTranspose(
        3, kernel_size, activation="sigmoid", padding="same", name="decoder_output"
    )(x)
    decoder = keras.Model(latent_inputs, outputs, name="decoder")
    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return encoder, decoder, autoencoder


def compile_report_style(model) -> None:
    """Compile ``model`` as the report does: Adam (Keras defaults), MSE loss, ``metrics=["acc"]``."""
    model.compile(
        optimizer=REPORT_TRAINING["optimizer"], loss=REPORT_TRAINING["loss"], metrics=REPORT_TRAINING["metrics"]
    )


def report_lr_reducer(monitor: str = "val_loss"):
    """The report's schedule: ``ReduceLROnPlateau(factor=sqrt(0.1), patience=5, cooldown=0,
    min_lr=0.5e-6)`` watching ``monitor`` (the book watches the validation split's loss)."""

    keras = import_keras()
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, factor=float(np.sqrt(0.1)), cooldown=0, patience=5, verbose=0, min_lr=0.5e-6
    )


def keras_acc(y_true, y_pred) -> float:
    """What Keras' ``"acc"`` computes for an image output, by hand.

    For an output whose last axis holds more than one value, Keras resolves ``"acc"`` to
    categorical accuracy: the fraction of positions where ``argmax`` over the last axis agrees.
    For RGB images that is the share of pixels whose brightest colour channel is the same.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (..., C)
        Targets and predictions of one shape, ``C >= 2``.

    Returns
    -------
    float
        In [0, 1].
    """
    t = _validate.array(y_true, "y_true")
    p = _validate.array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have one shape, got {t.shape} and {p.shape}")
    if t.ndim < 1 or t.shape[-1] < 2:
        raise ValueError(f"the last axis must hold at least two values (channels), got shape {t.shape}")
    return float(np.mean(np.argmax(t, axis=-1) == np.argmax(p, axis=-1)))


def deblur_image(model, image, *, tile: int | None = None, batch_size: int = 16) -> np.ndarray:
    """Restore an RGB image of any size with the autoencoder, tile by tile.

    The image is extended by mirroring to a multiple of the model's input side, cut into
    non-overlapping tiles, each tile restored, and the result cropped back. (The report instead
    squeezes every photo to 128 x 128; tiling keeps the resolution, at the price of seams.)

    Parameters
    ----------
    model : keras.Model
        Maps ``(n, tile, tile, 3)`` in [0, 1] to the same shape.
    image : array_like, shape (H, W) or (H, W, 3)
        Values in [0, 1]; a grey image is repeated to RGB.
    tile : int, optional
        Tile side; default the model's input side.

    Returns
    -------
    ndarray, shape (H, W, 3), float32
    """
    img = as_rgb(_validate.image(image))
    if img.min() < 0 or img.max() > 1:
        raise ValueError(f"image values must lie in [0, 1], got [{img.min():.3g}, {img.max():.3g}]")
    if tile is None:
        tile = int(model.input_shape[1])
    tile = _validate.integer(tile, "tile", minimum=1)
    rows, cols = img.shape[:2]
    pr, pc = (-rows) % tile, (-cols) % tile
    padded = np.pad(img, [(0, pr), (0, pc), (0, 0)], mode="symmetric") if pr or pc else img
    n_r, n_c = padded.shape[0] // tile, padded.shape[1] // tile
    tiles = padded.reshape(n_r, tile, n_c, tile, 3).swapaxes(1, 2).reshape(-1, tile, tile, 3)
    out = np.asarray(model.predict(tiles.astype(np.float32), batch_size=batch_size, verbose=0))
    out = out.reshape(n_r, n_c, tile, tile, 3).swapaxes(1, 2).reshape(padded.shape)
    return out[:rows, :cols].astype(np.float32)


def linear_code_reconstruction(train_images, images, *, n_components: int = 256) -> np.ndarray:
    """Reproduce ``images`` through the best *linear* code of ``n_components`` numbers for
    ``train_images``: their mean plus the first principal components (the optimum a linear
    autoencoder with this bottleneck reaches on its training data, for the MSE loss).

    A reference for what a bottleneck of that size keeps of an unseen image; a non-linear
    network may do better in principle.

    Parameters
    ----------
    train_images : array_like, shape (n, ...)
        Images the code is fitted to (flattened per image).
    images : array_like, shape (m, ...)
        Images of the same shape to encode and decode.
    n_components : int
        Size of the code; at most ``n - 1`` components exist, and fewer are used if so.

    Returns
    -------
    ndarray, shape (m, ...), float32
        The reconstructions, clipped to [0, 1].
    """
    train_arr = _validate.array(train_images, "train_images", dtype=np.float64)
    arr = _validate.array(images, "images", dtype=np.float64)
    if train_arr.ndim < 2 or train_arr.shape[1:] != arr.shape[1:]:
        raise ValueError(f"train_images and images must be stacks of one image shape, got {train_arr.shape} and {arr.shape}")
    k = _validate.integer(n_components, "n_components", minimum=1)
    flat = train_arr.reshape(len(train_arr), -1)
    mean = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    basis = vt[: min(k, max(len(flat) - 1, 1))]
    codes = (arr.reshape(len(arr), -1) - mean) @ basis.T
    out = mean + codes @ basis
    return np.clip(out, 0.0, 1.0).reshape(arr.shape).astype(np.float32)
