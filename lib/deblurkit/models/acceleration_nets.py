"""Chapter 2's Keras estimators of the accelerations (a_x, a_y): the seed's four approaches (a CNN
on the image, Sobel covariance + dense net, convnet covariance, Sobel X/Y paths), their
preprocessing, fitting with early stopping on validation, and estimation on whole images by tiles.
"""

from __future__ import annotations

import time

import numpy as np

from ..data.bundled import standardise
from ..models.keras_ops import import_keras
from ..runtime import validate as _validate

#: Notebook stem of the chapter that trains and saves the estimator.
CHAPTER = "02_estimating_acceleration"


#: The seed's four approaches: key -> builder name (see :func:`build`).
APPROACHES = {
    "approach1": "approach1_cnn",
    "approach2": "approach2_sobel_covariance",
    "approach3": "approach3_convnet_covariance",
    "approach4": "approach4_sobel_xy_paths",
}


def preprocess(images) -> np.ndarray:
    """Network input for a batch of grey crops ``(n, H, W)``: standardised per image, ``(n, H, W, 1)``."""
    return standardise(images)[..., None]


def taper(images) -> np.ndarray:
    """Grey images ``(H, W)`` or ``(n, H, W)`` minus their mean, times a 2-D Hann window.

    A camera's crop is not periodic: its FFT carries a bright cross from the jumps at the
    borders, which a spectral fit reads as blur. Tapering the borders to zero removes it
    (at the price of a slightly smoothed spectrum). Pass the result to
    :meth:`deblurkit.estimate.SpectralAccelerationEstimator.estimate`.
    """
    x = _validate.array(images, "images", ndim=(2, 3))
    window = np.hanning(x.shape[-2])[:, None] * np.hanning(x.shape[-1])[None, :]
    return (x - x.mean(axis=(-2, -1), keepdims=True)) * window


# --------------------------------------------------------------------------------------------
# Keras layers and models (Keras imported on first use).

_LAYERS: dict = {}


#: Sobel d/dx (and its transpose d/dy), scaled to unit gain on a unit ramp.
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32) / 8


def layers() -> dict:
    """The chapter's custom Keras layers, registered for saving and loading (``package="deblurkit"``).

    Returns
    -------
    dict
        ``{"Sobel", "SobelCovariance", "CovariancePooling", "ChannelSlice"}`` -> layer class.
    """
    if _LAYERS:
        return _LAYERS

    keras = import_keras()
    ops = keras.ops
    register = keras.saving.register_keras_serializable(package="deblurkit")

    @register
    class Sobel(keras.layers.Layer):
        """Fixed Sobel filtering: ``(n, H, W, 1) -> (n, H, W, 2)`` holding d/dx and d/dy."""

        def call(self, x):
            k = np.zeros((3, 3, 1, 2), np.float32)
            k[:, :, 0, 0], k[:, :, 0, 1] = SOBEL_X, SOBEL_X.T
            return ops.conv(x, ops.convert_to_tensor(k), padding="same")

    @register
    class SobelCovariance(keras.layers.Layer):
        """The 2x2 covariance of (d/dx, d/dy) over the image as 3 features: the two
        log-variances (blur scales gradient energy multiplicatively) and the correlation
        coefficient (the blur's direction)."""

        def call(self, d):
            d = d - ops.mean(d, axis=(1, 2), keepdims=True)
            vxx = ops.mean(d[..., 0] ** 2, axis=(1, 2))
            vyy = ops.mean(d[..., 1] ** 2, axis=(1, 2))
            vxy = ops.mean(d[..., 0] * d[..., 1], axis=(1, 2))
            corr = vxy / ops.sqrt(vxx * vyy + 1e-8)
            return ops.stack([ops.log(vxx + 1e-8), ops.log(vyy + 1e-8), corr], axis=-1)

    @register
    class CovariancePooling(keras.layers.Layer):
        """Second-order pooling: the K x K covariance of K feature maps over the image,
        divided by its trace, flattened to K*K features."""

        def call(self, f):
            _, h, w, k = ops.shape(f)
            f = f - ops.mean(f, axis=(1, 2), keepdims=True)
            f = ops.reshape(f, (-1, h * w, k))
            cov = ops.matmul(ops.transpose(f, (0, 2, 1)), f) / ops.cast(h * w, f.dtype)
            trace = ops.trace(cov, axis1=1, axis2=2)[:, None, None]
            return ops.reshape(cov / (trace + 1e-6), (-1, k * k))

    @register
    class ChannelSlice(keras.layers.Layer):
        """Keep one channel: ``(n, H, W, C) -> (n, H, W, 1)`` (serialisable, unlike a Lambda)."""

        def __init__(self, channel: int, **kwargs):
            super().__init__(**kwargs)
            self.channel = int(channel)

        def call(self, x):
            return x[..., self.channel : self.channel + 1]

        def get_config(self):
            return {**super().get_config(), "channel": self.channel}

    _LAYERS.update(
        Sobel=Sobel, SobelCovariance=SobelCovariance, CovariancePooling=CovariancePooling, ChannelSlice=ChannelSlice
    )
    return _LAYERS


def _shape(shape) -> tuple[int, int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 3 or shape[2] != 1:
        raise ValueError(f"shape must be (H, W, 1) for grey crops, got {shape!r}")
    rows, cols = (_validate.integer(s, "shape", minimum=8) for s in shape[:2])
    if rows % 8 or cols % 8:
        raise ValueError(f"shape's sides must be multiples of 8 (three 2x poolings), got {shape!r}")
    return rows, cols, 1


def approach1_cnn(shape, *, width: int = 16, dense: int = 128, l2: float = 0.0, dropout: float = 0.0):
    """Approach 1, a CNN on the blurred image: Conv(w)-Pool-Conv(2w)-Pool-Conv(4w)-Pool (3x3,
    ReLU), Flatten, Dense(``dense``, ReLU), optional Dropout, Dense(2).

    Parameters
    ----------
    shape : (int, int, 1)
        Input shape; sides multiples of 8.
    width, dense : int
        Capacity: filters of the first convolution, units of the hidden dense layer.
    l2 : float
        L2 weight penalty on the convolutions and the hidden dense layer (0: none).
    dropout : float
        Dropout rate before the output layer, in [0, 1) (0: none).
    """

    keras = import_keras()
    shape = _shape(shape)
    width = _validate.integer(width, "width", minimum=1)
    dense = _validate.integer(dense, "dense", minimum=1)
    l2 = _validate.positive_scalar(l2, "l2", allow_zero=True)
    dropout = _validate.positive_scalar(dropout, "dropout", allow_zero=True)
    if dropout >= 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    reg = keras.regularizers.L2(l2) if l2 else None
    x = inputs = keras.Input(shape)
    for w in (width, 2 * width, 4 * width):
        x = keras.layers.Conv2D(w, 3, padding="same", activation="relu", kernel_regularizer=reg)(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense, activation="relu", kernel_regularizer=reg)(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x), name="approach1_cnn")


def approach2_sobel_covariance(shape, *, hidden: int = 32):
    """Approach 2: fixed Sobel -> 2x2 covariance (3 features) -> Dense(hidden)-Dense(hidden) -> 2."""

    keras = import_keras()
    hidden = _validate.integer(hidden, "hidden", minimum=1)
    L = layers()
    inputs = keras.Input(_shape(shape))
    x = L["SobelCovariance"]()(L["Sobel"]()(inputs))
    x = keras.layers.Dense(hidden, activation="relu")(x)
    x = keras.layers.Dense(hidden, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x), name="approach2_sobel_covariance")


def approach3_convnet_covariance(shape, *, filters: int = 8, hidden: int = 64):
    """Approach 3, convnet-covariance: approach 2 with the two fixed Sobel filters replaced by
    learned ones (two 5x5 convolutions of ``filters``), covariance pooling, Dense(hidden) -> 2."""

    keras = import_keras()
    filters = _validate.integer(filters, "filters", minimum=1)
    hidden = _validate.integer(hidden, "hidden", minimum=1)
    inputs = keras.Input(_shape(shape))
    x = keras.layers.Conv2D(filters, 5, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(filters, 5, padding="same")(x)
    x = layers()["CovariancePooling"]()(x)
    x = keras.layers.Dense(hidden, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x), name="approach3_convnet_covariance")


def approach4_sobel_xy_paths(shape, *, width: int = 16, hidden: int = 32):
    """Approach 4, convnet over Sobel: d/dx feeds an "X path" CNN predicting a_x, d/dy a separate
    "Y path" predicting a_y; each path is Conv(w)-Pool-Conv(2w)-Pool-Conv(4w)-Pool, global
    average pooling, Dense(hidden), Dense(1)."""

    keras = import_keras()
    width = _validate.integer(width, "width", minimum=1)
    hidden = _validate.integer(hidden, "hidden", minimum=1)
    L = layers()
    inputs = keras.Input(_shape(shape))
    d = L["Sobel"]()(inputs)
    outputs = []
    for channel, name in ((0, "x_path"), (1, "y_path")):
        x = L["ChannelSlice"](channel, name=f"{name}_input")(d)
        for w in (width, 2 * width, 4 * width):
            x = keras.layers.Conv2D(w, 3, padding="same", activation="relu")(x)
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(hidden, activation="relu")(x)
        outputs.append(keras.layers.Dense(1, name=f"{name}_out")(x))
    return keras.Model(inputs, keras.layers.Concatenate()(outputs), name="approach4_sobel_xy_paths")


def build(approach: str, shape, **kwargs):
    """The network of ``approach`` (a key of :data:`APPROACHES`) for inputs of ``shape``."""
    _validate.choice(approach, "approach", set(APPROACHES))
    return globals()[APPROACHES[approach]](shape, **kwargs)


def fit(model, x, y, x_val, y_val, *, epochs: int, batch_size: int = 32, patience: int = 5, learning_rate: float = 1e-3):
    """Train ``model`` with Adam on MSE; stop early on the validation loss and keep its best epoch.

    Parameters
    ----------
    model : keras.Model
        A network from :func:`build`.
    x, y : ndarray
        Training inputs ``(n, H, W, 1)`` and scaled labels ``(n, 2)``.
    x_val, y_val : ndarray
        Validation inputs and labels: early stopping watches them, never the test set.
    epochs : int
        Most epochs, >= 1.
    batch_size, patience : int
        Batch size; epochs without a lower validation loss before stopping.
    learning_rate : float
        Adam's step size.

    Returns
    -------
    dict
        ``"history"`` (Keras' per-epoch ``loss`` / ``val_loss``), ``"seconds"``, ``"epochs"``
        (epochs run) and ``"best_epoch"`` (1-based epoch whose weights are kept).
    """

    keras = import_keras()
    epochs = _validate.integer(epochs, "epochs", minimum=1)
    patience = _validate.integer(patience, "patience", minimum=1)
    model.compile(optimizer=keras.optimizers.Adam(_validate.positive_scalar(learning_rate, "learning_rate")), loss="mse")
    keep_best = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size, callbacks=[keep_best], verbose=0
    ).history
    seconds = time.perf_counter() - start
    best = int(np.argmin(history["val_loss"])) + 1
    return {"history": history, "seconds": seconds, "epochs": len(history["loss"]), "best_epoch": best}


def predict(model, images, *, a_max: float) -> np.ndarray:
    """Estimated ``(a_x, a_y)`` in px/time² for grey crops ``(n, H, W)`` of the model's input size."""
    a_max = _validate.positive_scalar(a_max, "a_max")
    return np.asarray(model.predict(preprocess(images), batch_size=256, verbose=0), float) * a_max


def tiles(image, size: int, stride: int | None = None) -> np.ndarray:
    """Square ``size`` tiles of a grey image on a regular grid of ``stride`` (default ``size // 2``)."""
    img = _validate.array(image, "image", ndim=2)
    size = _validate.integer(size, "size", minimum=1)
    stride = size // 2 if stride is None else _validate.integer(stride, "stride", minimum=1)
    if min(img.shape) < size:
        raise ValueError(f"image of shape {img.shape} is smaller than the {size} px tiles")
    rows = range(0, img.shape[0] - size + 1, max(1, stride))
    cols = range(0, img.shape[1] - size + 1, max(1, stride))
    return np.stack([img[r : r + size, c : c + size] for r in rows for c in cols])


def estimate_on_image(model, image, *, a_max: float, stride: int | None = None) -> np.ndarray:
    """``(a_x, a_y)`` of a grey image of any size (at least the model's input): the median of the
    network's estimates on overlapping tiles of its input size (one blur, many looks)."""
    size = int(model.input_shape[1])
    return np.median(predict(model, tiles(image, size, stride), a_max=a_max), axis=0)
