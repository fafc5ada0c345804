"""The networks, one module per family. Keras: ``acceleration_nets`` (chapter 2), ``autoencoder``
(chapter 3), ``sigma_cnn`` (chapter 4), helpers in ``keras_ops``. Torch: ``adaptive_basis``
(chapter 5), ``deblurgan`` (chapter 6), helpers in ``torch_ops``. Torch modules import torch at
the top (import them by name); Keras modules import Keras only inside the functions that build
or run a network.
"""

