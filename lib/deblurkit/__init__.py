"""deblurkit: the shared library of the executable image-deblurring course.

Modules
-------
psf       blur kernels: linear motion, defocus disk, Gaussian, uniform acceleration, camera shake
otf       transfer functions: closed forms (Fresnel) and numerical (FFT / DFT of a kernel)
blur      image formation g = h * f + n with an explicit boundary mode
restore   inverse, pseudo-inverse, Wiener, constrained least squares, Richardson-Lucy
estimate  classical blur-parameter estimation (acceleration from the blurred spectrum)
metrics   PSNR, SSIM (scikit-image and "paper" settings), sigma-map RMSE
data      images bundled with installed packages, the book's one train/validation/test split,
          crops and patches, external data sets
synthetic synthetic data sets of blurred crops with known parameters
train     profiles, seeding, device, progress, atomic checkpoints, timing
plotting  labelled figures of images, kernels and transfer functions
report    glue computed values into the prose; verdicts on the seeds' claims, computed
widgets   an ipywidgets explorer whose render function also draws the static figure
nonuniform per-pixel mixtures of kernels: operator, exact adjoint, Richardson-Lucy(-TV),
          synthetic non-uniform blur with per-pixel truth, sigma-maps as kernel mixtures
          (import it by name)
sidebyside chapter 7: the one held-out evaluation set, methods scored on it, the claims
          ledger; chapters 2-4's Keras models run in a subprocess (import it by name)

Torch-only modules, imported on demand (never by ``import deblurkit``):
torchtrain one process or torchrun/DDP, bf16 autocast, resumable checkpoints with metadata
adaptive_basis the two-head kernel-basis network of Carbajal et al., its losses and training
deblurgan  the DeblurGAN generator and critic, WGAN-GP training, command line

Importing deblurkit imports no deep-learning framework.
"""

from . import blur, data, estimate, metrics, otf, plotting, psf, report, restore, synthetic, train, widgets

__version__ = "0.1.0"

__all__ = ["blur", "data", "estimate", "metrics", "otf", "plotting", "psf", "report", "restore", "synthetic", "train", "widgets", "__version__"]
