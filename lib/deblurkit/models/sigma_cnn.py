"""Chapter 4's sigma-map CNN (seed 001's 26-module classifier over sigma classes) and the fully
convolutional sigma regressor: networks, patch data, training with the best validation epoch
kept, sigma-maps of whole images and their smoothing.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.ndimage import uniform_filter

from ..data.bundled import bundled_square, standardise
from ..imaging.blur import blur
from ..imaging.metrics import sigma_rmse
from ..imaging.psf import gaussian_psf
from ..models.keras_ops import import_keras
from ..runtime import validate as _validate

#: Side of the seed's square patches, in pixels.
PATCH = 32


#: The seed's two class grids: σ = 0.3, 0.6, ..., 3.0 (10 classes) and 0.1, 0.2, ..., 3.0 (30).
SIGMA_GRIDS = {
    10: np.round(np.arange(1, 11) * 0.3, 1),
    30: np.round(np.arange(1, 31) * 0.1, 1),
}


#: The seed's convolutions (in, out, kernel), all unpadded, stride 1; a 2×2 max-pool sits
#: before the last one.
SEED_CONVS = ((1, 4, 3), (4, 8, 3), (8, 16, 3), (16, 32, 3), (32, 64, 3), (64, 64, 3), (64, 64, 5))


#: The last convolution, after the pool: 64 × 4 × 4 = 1024 values for ``View(1024)``.
SEED_LAST_CONV = (64, 64, 5)


#: The seed's hidden linear layers (in, out); a last one maps 100 to the classes.
SEED_LINEARS = ((1024, 1600), (1600, 800), (800, 100))


def _classes(classes) -> int:
    classes = _validate.integer(classes, "classes", minimum=2)
    return classes


def expected_parameters(classes: int) -> int:
    """Parameter count of the seed's network, from its printed layer list by hand.

    ``k*k*c_in*c_out + c_out`` per convolution and ``n_in*n_out + n_out`` per linear layer.
    """
    classes = _classes(classes)
    convs = (*SEED_CONVS, SEED_LAST_CONV)
    linears = (*SEED_LINEARS, (100, classes))
    return sum(k * k * i * o + o for i, o, k in convs) + sum(i * o + o for i, o in linears)


def sigma_classifier(classes: int, *, initializer: str = "he_normal"):
    """Seed 001's 26-module network: a 32×32×1 patch -> log-probabilities over σ classes.

    Parameters
    ----------
    classes : int
        Number of σ classes (10 or 30 in the seed), >= 2.
    initializer : str
        Keras initializer of every kernel (biases start at zero). ``"he_normal"`` (variance
        2 / fan-in) keeps the scale of the signal through the ReLU stack;
        ``"glorot_uniform"`` is Keras' default.

    Returns
    -------
    keras.Sequential
        26 layers, as the seed's modules: 7 × (Conv2D valid, ReLU), MaxPooling2D(2),
        Conv2D 5×5, ReLU, Flatten (1024), 3 × (Dense, ReLU), Dense(classes), log-softmax.
    """

    classes = _classes(classes)
    _validate.choice(initializer, "initializer", {"he_normal", "glorot_uniform"})
    keras = import_keras()
    L = keras.layers
    modules = [keras.Input((PATCH, PATCH, 1))]
    for _, c_out, k in SEED_CONVS:
        modules += [L.Conv2D(c_out, k, kernel_initializer=initializer), L.ReLU()]
    modules += [L.MaxPooling2D(2), L.Conv2D(64, 5, kernel_initializer=initializer), L.ReLU(), L.Flatten()]
    for _, n_out in SEED_LINEARS:
        modules += [L.Dense(n_out, kernel_initializer=initializer), L.ReLU()]
    modules += [L.Dense(classes, kernel_initializer=initializer), L.Activation("log_softmax")]
    return keras.Sequential(modules, name=f"sigma_cnn_{classes}")


def sigma_fcn(*, width: int = 32, dilations=(1, 2, 4, 8, 1)):
    """A small fully convolutional σ regressor: an H×W×1 image -> σ (px) at every pixel.

    Parameters
    ----------
    width : int
        Channels of every hidden 3×3 convolution.
    dilations : sequence of int
        Dilation of each 3×3 convolution ("same" zero padding, ReLU). The default gives a
        receptive field of 33 px (:func:`receptive_field`), about the classifier's 32 px window.

    Returns
    -------
    keras.Model
        Input ``(None, None, 1)``; a 1×1 convolution and a softplus make the output a
        non-negative σ of the input's height and width.
    """

    width = _validate.integer(width, "width", minimum=1)
    dilations = tuple(_validate.integer(d, "dilations[i]", minimum=1) for d in dilations)
    if not dilations:
        raise ValueError("dilations must name at least one convolution")
    keras = import_keras()
    L = keras.layers
    x = inputs = keras.Input((None, None, 1))
    for d in dilations:
        x = L.Conv2D(width, 3, padding="same", dilation_rate=d, activation="relu")(x)
    outputs = L.Conv2D(1, 1, activation="softplus")(x)
    return keras.Model(inputs, outputs, name="sigma_fcn")


def receptive_field(model) -> int:
    """Side in pixels of the receptive field of a stack of stride-1 convolutions (a model's
    Conv2D layers): ``1 + sum(dilation * (kernel - 1))``. Pooling layers are refused."""
    side = 1
    for layer in model.layers:
        kind = type(layer).__name__
        if "Pooling" in kind:
            raise ValueError(f"receptive_field handles stride-1 convolutions only, got {kind}")
        if kind == "Conv2D":
            if tuple(layer.strides) != (1, 1):
                raise ValueError(
                    f"receptive_field handles stride-1 convolutions only, got strides {layer.strides}"
                )
            side += sum(d * (k - 1) for d, k in zip(layer.dilation_rate, layer.kernel_size)) // 2
    return side


def network_input(patches) -> np.ndarray:
    """Patches ``(n, H, W)`` as the network reads them: each standardised
    (:func:`deblurkit.data.standardise`), with Keras' channel axis, ``(n, H, W, 1)`` float32."""
    return standardise(patches)[..., None]


def blur_stack(image, sigmas, *, mode: str = "symmetric") -> np.ndarray:
    """``image`` blurred by the rasterised Gaussian of each σ, in the image domain.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Sharp grey image.
    sigmas : array_like, shape (k,)
        Standard deviations in px, >= 0.
    mode : str
        Boundary of :func:`deblurkit.blur.blur` (default mirrored, as a camera's border reads).

    Returns
    -------
    ndarray, shape (k, H, W)
    """

    img = _validate.array(image, "image", ndim=2)
    sigmas = _validate.array(sigmas, "sigmas", ndim=1)
    return np.stack([blur(img, gaussian_psf(float(s)), mode=mode) for s in sigmas])


def patch_dataset(names, sigmas, side: int, *, stride: int = PATCH, min_std: float = 0.0):
    """Patches of every named bundled image blurred at every σ, with class labels.

    Parameters
    ----------
    names : sequence of str
        Bundled images (e.g. ``deblurkit.data.split_names("train")``).
    sigmas : array_like
        The class grid, e.g. ``SIGMA_GRIDS[10]``.
    side : int
        Each image is used grey, centre-cropped to a square and resized to ``side`` px.
    stride : int
        Step between 32×32 patches (32: non-overlapping, as the seed).
    min_std : float
        Keep only the positions whose *sharp* patch has a standard deviation of at least this
        (intensity in [0, 1]): a flat patch carries no σ. Decided on the sharp image, so every
        σ keeps the same positions and the classes stay balanced.

    Returns
    -------
    x : ndarray, shape (n, 32, 32, 1), float32, standardised per patch
    y : ndarray, shape (n,), int32 class indices into ``sigmas``
    source : ndarray, shape (n,), the image each patch comes from
    """

    names = list(names)
    if not names:
        raise ValueError("names must list at least one bundled image")
    side = _validate.integer(side, "side", minimum=PATCH)
    stride = _validate.integer(stride, "stride", minimum=1)
    min_std = _validate.positive_scalar(min_std, "min_std", allow_zero=True)
    xs, ys, src = [], [], []
    for name in names:
        sharp = bundled_square(name, side)
        keep = windows(sharp, stride).reshape(-1, PATCH, PATCH).std(axis=(1, 2)) >= min_std
        for k, blurred in enumerate(blur_stack(sharp, sigmas)):
            tiles = windows(blurred, stride).reshape(-1, PATCH, PATCH)[keep]
            xs.append(network_input(tiles))
            ys.append(np.full(len(tiles), k, dtype=np.int32))
            src.append(np.full(len(tiles), name))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(src)


def dihedral(x, k: int) -> np.ndarray:
    """View ``k`` (0-7) of patches ``x`` (n, H, W, 1): ``k % 4`` quarter turns, mirrored when
    ``k >= 4``. A Gaussian blur is isotropic, so every view has the same σ."""
    x = _validate.array(x, "x", ndim=4)
    k = _validate.integer(k, "k", minimum=0)
    if k > 7:
        raise ValueError(f"k must be in 0..7, got {k}")
    return np.rot90(x[:, :, ::-1] if k >= 4 else x, k % 4, axes=(1, 2))


def _batches(x, y, batch: int, rng):
    """Shuffled batches in a random dihedral view, as a ``keras.utils.PyDataset``: a new order
    and new views every epoch, drawn from the one generator ``rng`` (seeded once, by the caller)."""

    keras = import_keras()

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.order = rng.permutation(len(y))
            self.views = rng.integers(8, size=len(self))

        def __len__(self):
            return (len(y) + batch - 1) // batch

        def __getitem__(self, i):
            rows = np.sort(self.order[i * batch : (i + 1) * batch])
            return np.ascontiguousarray(dihedral(x[rows], int(self.views[i]))), y[rows]

        def on_epoch_end(self):
            # the same generator, not re-seeded: every epoch its own order and views
            self.order = rng.permutation(len(y))
            self.views = rng.integers(8, size=len(self))

    return Batches()


def predict_sigma(model, x, grid, *, views: int = 1, batch: int = 512) -> np.ndarray:
    """σ (px) of patches ``x`` (n, 32, 32, 1): the grid value of the argmax of the
    log-probabilities averaged over the first ``views`` dihedral views."""
    x = _validate.array(x, "x", ndim=4)
    grid = _validate.array(grid, "grid", ndim=1)
    views = _validate.integer(views, "views", minimum=1)
    if views > 8:
        raise ValueError(f"views must be in 1..8, got {views}")
    logp = sum(
        model.predict(np.ascontiguousarray(dihedral(x, k)), batch_size=batch, verbose=0) for k in range(views)
    )
    return grid[np.argmax(logp, axis=1)]


def train_classifier(
    model, x, y, *, grid, epochs: int, x_val, y_val, seed: int, batch: int = 32, peak_lr: float = 1e-3
):
    """Train a classifier of :func:`sigma_classifier` and keep the weights of its best
    validation epoch.

    Adam with a cosine schedule (linear warm-up over the first epoch to ``peak_lr``, then
    cosine decay to zero), negative log-likelihood of the log-softmax (the seed's loss),
    batches in a random dihedral view, reshuffled every epoch. After each epoch the σ-RMSE
    (px) on the validation patches is measured; the weights of the lowest one are restored.

    Returns
    -------
    dict
        ``history`` (validation σ-RMSE per epoch), ``best_epoch`` (1-based),
        ``best_validation_rmse``, ``seconds``, ``steps``.
    """

    keras = import_keras()
    x = _validate.array(x, "x", ndim=4)
    epochs = _validate.integer(epochs, "epochs", minimum=1)
    batch = _validate.integer(batch, "batch", minimum=1)
    grid = _validate.array(grid, "grid", ndim=1)
    if len(y) != len(x) or len(y_val) != len(x_val):
        raise ValueError("x and y (and x_val and y_val) must have the same length")
    rng = np.random.default_rng(_validate.integer(seed, "seed", minimum=0))
    data = _batches(x, np.asarray(y), batch, rng)
    steps = epochs * len(data)
    warmup = min(len(data), steps // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        peak_lr / 10, max(1, steps - warmup), alpha=0.0, warmup_target=peak_lr, warmup_steps=warmup
    )
    # the outputs are log-probabilities, and log_softmax(log_softmax(z)) = log_softmax(z): this is
    # exactly the negative log-likelihood of the seed's LogSoftMax + ClassNLLCriterion
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    truth_val = grid[np.asarray(y_val)]
    history, best = [], {"rmse": np.inf, "weights": None, "epoch": 0}

    class KeepBest(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rmse = sigma_rmse(truth_val, predict_sigma(self.model, x_val, grid))
            history.append(rmse)
            if rmse < best["rmse"]:
                best.update(rmse=rmse, weights=self.model.get_weights(), epoch=epoch + 1)

    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=0, callbacks=[KeepBest()])
    seconds = time.perf_counter() - start
    model.set_weights(best["weights"])
    return {
        "history": history,
        "best_epoch": best["epoch"],
        "best_validation_rmse": float(best["rmse"]),
        "seconds": seconds,
        "steps": steps,
    }


def windows(image, stride: int) -> np.ndarray:
    """All 32×32 windows of ``image`` starting every ``stride`` px: a view (rows, cols, 32, 32)."""
    img = _validate.array(image, "image", ndim=2)
    stride = _validate.integer(stride, "stride", minimum=1)
    if min(img.shape) < PATCH:
        raise ValueError(f"image must be at least {PATCH}x{PATCH}, got {img.shape}")
    return np.lib.stride_tricks.sliding_window_view(img, (PATCH, PATCH))[::stride, ::stride]


def at_centres(full_map, stride: int) -> np.ndarray:
    """A per-pixel map sampled at the centres (offset 16) of the windows of :func:`windows`."""
    return windows(full_map, stride)[:, :, PATCH // 2, PATCH // 2]


def sigma_map(model, image, grid, *, stride: int, views: int = 1) -> np.ndarray:
    """Estimated σ at the centres of all 32×32 windows of ``image`` taken every ``stride`` px.

    Each window is standardised and classified (:func:`predict_sigma`); the map is the grid
    value of the predicted class, so it is quantised to the class step. Compare it with
    :func:`at_centres` of the true map.
    """
    w = windows(image, stride)
    rows, cols = w.shape[:2]
    return predict_sigma(model, network_input(w.reshape(-1, PATCH, PATCH)), grid, views=views).reshape(
        rows, cols
    )


def smooth_map(sigma_map, iterations: int) -> np.ndarray:
    """``iterations`` passes of a 3×3 mean filter with mirrored borders over a σ-map."""
    current = _validate.array(sigma_map, "sigma_map", ndim=2).astype(float)
    for _ in range(_validate.integer(iterations, "iterations", minimum=0)):
        current = uniform_filter(current, size=3, mode="mirror")
    return current


def fcn_examples(names, sigmas, side: int, crop: int, count: int, rng):
    """Crops for the regressor from the classifier's data: each a ``crop``-px window of a
    named image blurred uniformly by one σ of the grid, with its constant σ-map.

    Returns
    -------
    x : ndarray (count, crop, crop, 1) float32, standardised per crop
    y : ndarray (count, crop, crop, 1) float32, σ in px
    """

    rng = _validate.rng(rng)
    crop = _validate.integer(crop, "crop", minimum=1)
    count = _validate.integer(count, "count", minimum=1)
    sigmas = _validate.array(sigmas, "sigmas", ndim=1)
    stacks = [blur_stack(bundled_square(n, side), sigmas) for n in names]
    if crop > side:
        raise ValueError(f"crop={crop} exceeds side={side}")
    xs, ys = [], []
    for _ in range(count):
        i, k = rng.integers(len(stacks)), rng.integers(len(sigmas))
        r, c = rng.integers(0, side - crop + 1, size=2)
        xs.append(stacks[i][k, r : r + crop, c : c + crop])
        ys.append(np.full((crop, crop, 1), sigmas[k], dtype=np.float32))
    return network_input(np.stack(xs)), np.stack(ys)


def train_fcn(
    model, x, y, *, epochs: int, margin: int, seed: int, x_val, y_val, batch: int = 16, lr: float = 1e-3
):
    """Train :func:`sigma_fcn` with a per-pixel squared error, scoring only pixels at least
    ``margin`` px inside each crop (those whose receptive field lies inside it), and keep the
    weights of the epoch with the lowest σ-RMSE on the validation crops (same margin).

    Returns
    -------
    dict
        ``seconds``, ``steps``, ``history`` (validation σ-RMSE per epoch), ``best_epoch``
        (1-based), ``best_validation_rmse``.
    """

    keras = import_keras()
    margin = _validate.integer(margin, "margin", minimum=0)
    epochs = _validate.integer(epochs, "epochs", minimum=1)
    if 2 * margin >= min(x.shape[1:3]):
        raise ValueError(f"margin={margin} leaves no pixel of a {x.shape[1]}x{x.shape[2]} crop")
    # train through a wrapper that crops the margin, so the saved regressor carries no custom loss
    inputs = keras.Input(x.shape[1:])
    trainer = keras.Model(inputs, keras.layers.Cropping2D(margin)(model(inputs)))
    trainer.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    y = y[:, margin : y.shape[1] - margin, margin : y.shape[2] - margin]
    rng = np.random.default_rng(_validate.integer(seed, "seed", minimum=0))
    y_val = y_val[:, margin : y_val.shape[1] - margin, margin : y_val.shape[2] - margin]
    start = time.perf_counter()
    history, best = [], {"rmse": np.inf}
    for epoch in range(epochs):
        order = rng.permutation(len(x))  # a new order every epoch
        trainer.fit(x[order], y[order], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        rmse = float(np.sqrt(np.mean((trainer.predict(x_val, verbose=0) - y_val) ** 2)))
        history.append(rmse)
        if rmse < best["rmse"]:
            best.update(rmse=rmse, weights=model.get_weights(), epoch=epoch + 1)
    model.set_weights(best["weights"])
    return {
        "seconds": time.perf_counter() - start,
        "steps": epochs * -(-len(x) // batch),
        "history": history,
        "best_epoch": best["epoch"],
        "best_validation_rmse": best["rmse"],
    }


def predict_fcn(model, image) -> np.ndarray:
    """Dense σ-map (px) of a grey image in one pass of :func:`sigma_fcn`."""
    img = _validate.array(image, "image", ndim=2)
    return np.asarray(model.predict(network_input(img[None]), verbose=0))[0, :, :, 0]


def transfer_features(source, target) -> None:
    """Copy every layer of one :func:`sigma_classifier` into another except the last linear
    layer (and its log-softmax), so that a network with more classes starts from features
    another has learnt. The two must have the same layers up to the classes."""
    if len(source.layers) != len(target.layers):
        raise ValueError(
            f"source and target must have the same layers, got {len(source.layers)} and {len(target.layers)}"
        )
    for i, (a, b) in enumerate(zip(source.layers[:-2], target.layers[:-2])):
        wa, wb = a.get_weights(), b.get_weights()
        if [w.shape for w in wa] != [w.shape for w in wb]:
            raise ValueError(f"layer {i} ({a.name}) differs in shape between source and target")
        b.set_weights(wa)
