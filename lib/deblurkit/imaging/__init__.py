"""The imaging core, NumPy/SciPy only (import-linter checks that it reaches no deep-learning
framework and nothing of the book's machinery).

``psf`` kernels (and the one camera-shake generator), ``otf`` transfer functions, ``blur`` image
formation (and the one camera blur), ``restore`` non-blind filters, ``nonuniform`` the
per-pixel kernel-mixture operator and Richardson-Lucy, ``estimate`` classical blur estimation,
``metrics`` PSNR/SSIM/sigma-RMSE.
"""

