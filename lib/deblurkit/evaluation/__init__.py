"""Evaluation: what the side-by-side chapter (chapter 8) measures. ``items``: the one held-out
evaluation set (every blur kind, camera-blurred, with ground truth) and the reader's photo;
``methods``: method records scored with the setting chosen on validation, the oracle filters;
``ledger``: the best method per kind and the claims ledger; ``keras_worker``: chapters 2-4's Keras
models run in their own process (``python -m deblurkit.evaluation.keras_worker``), so no
process imports both TensorFlow and torch; ``tiling``: fixed-size networks on any image size, in
blended tiles; ``testtime``: the device of the torch networks, and DeblurGAN restored as its
authors' test code runs it (dropout on, one seeded mask per image; imports torch only when
called). Public names are re-exported here."""

from .items import (  # noqa: F401
    ACCELERATION_MAX,
    BLUR_KINDS,
    DEFOCUS_RADII,
    EVALUATION_PROFILES,
    EVALUATION_SPLITS,
    GAMMA,
    GAUSSIAN_SIGMAS,
    KIND_SOURCES,
    NOISE_SIGMA,
    evaluation_set,
    evaluation_settings,
    luminance,
    per_channel,
    photo_input,
)
from .keras_worker import (  # noqa: F401
    KERAS_CHECKPOINTS,
    SIGMA_MAP_STRIDE,
    KerasOutputs,
    keras_checkpoint,
    keras_predictions,
    run_keras_subprocess,
)
from .ledger import (  # noqa: F401
    best_methods,
    best_phrase,
    current_chapter_keys,
    git_changed_since,
    html_table,
    ledger_html,
    ledger_rows,
    record_is_stale,
)
from .methods import (  # noqa: F401
    BLIND_L0_SETTINGS,
    ORACLE_SETTINGS,
    Method,
    blind_l0_method,
    blurred_input,
    choose_setting,
    evaluate,
    full_resolution_map,
    in_linear,
    oracle_methods,
    retime,
    sigma_map_deconvolution,
    sigma_map_levels,
)
from .tiling import blend_window, tiled_apply  # noqa: F401

__all__ = [
    "BLUR_KINDS", "KIND_SOURCES", "NOISE_SIGMA", "GAMMA", "ACCELERATION_MAX", "DEFOCUS_RADII",
    "GAUSSIAN_SIGMAS", "EVALUATION_PROFILES", "EVALUATION_SPLITS", "evaluation_settings",
    "evaluation_set", "photo_input", "per_channel", "luminance", "Method", "choose_setting",
    "evaluate", "retime", "blurred_input", "ORACLE_SETTINGS", "oracle_methods", "in_linear",
    "BLIND_L0_SETTINGS", "blind_l0_method",
    "sigma_map_levels", "sigma_map_deconvolution", "full_resolution_map", "best_methods",
    "best_phrase", "record_is_stale", "current_chapter_keys", "git_changed_since", "ledger_rows", "html_table",
    "ledger_html", "tiled_apply", "blend_window", "KERAS_CHECKPOINTS", "keras_checkpoint",
    "SIGMA_MAP_STRIDE", "keras_predictions", "KerasOutputs", "run_keras_subprocess",
]
