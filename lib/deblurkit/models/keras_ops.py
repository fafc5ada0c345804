"""Keras helpers shared by the Keras networks: importing Keras with the TensorFlow backend and a
quiet log, only when a network is built (so that importing a Keras module imports no framework).
"""

from __future__ import annotations

import os


def import_keras():
    """Import Keras 3 on the TensorFlow backend, with TensorFlow's start-up and retracing chatter silenced.

    Call it before :func:`seed_everything` so that Keras is seeded too. A notebook that uses
    it must not import torch (one framework per process).

    Returns
    -------
    module
        The ``keras`` module.
    """
    import logging

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    # Predicting with several models re-traces TensorFlow graphs; the warnings about it are noise.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras
