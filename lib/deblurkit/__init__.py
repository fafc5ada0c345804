"""deblurkit: the shared library of the executable image-deblurring course.

The package is laid out by concern, in layers; a module imports only from its own layer or the
layers below it (``import-linter`` checks this in ``make test``; see ``pyproject.toml``):

=============  =====================================================================================
layer          what lives there
=============  =====================================================================================
command lines  ``deblurgan`` (``python -m deblurkit.deblurgan``), ``adaptive_basis``, ``blind``
evaluation     chapter 8's held-out evaluation set, the methods scored on it, the claims ledger,
               the Keras worker that runs chapters 2-4's models in their own process
training       torch: ``torchtrain`` (one process or torchrun/DDP, autocast, resumable
               checkpoints), the DeblurGAN and adaptive-basis trainers; ``keras``: saving and
               loading Keras models with their records
models         one module per network family: Keras (``acceleration_nets``, ``autoencoder``,
               ``sigma_cnn``, helpers in ``keras_ops``) and torch (``adaptive_basis``,
               ``deblurgan``, helpers in ``torch_ops``)
book           the book's machinery: ``glue`` (glue, ChapterClock), ``verdicts``, ``checkpoints``
               (paths and records), ``widgets``, ``plotting``
data           ``bundled`` images and the one split, ``synthetic`` training and evaluation sets,
               ``external`` data-set loaders (GoPro, Koehler, Kaggle); ``deblurkit.data``
               re-exports all three
imaging        the imaging core, numpy/scipy only: ``psf``, ``otf``, ``blur``, ``restore``,
               ``nonuniform``, ``estimate``, ``metrics``, ``blind`` (with ``blind_steps``)
runtime        the ground floor: ``validate``, ``profiles``, ``seeding``, ``files`` (atomic writes,
               project paths), ``timing``, ``progress``
=============  =====================================================================================

Importing deblurkit (or any module outside ``models``/``training`` torch modules) imports no
deep-learning framework; the Keras modules import Keras only inside the functions that build or
run a network.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
