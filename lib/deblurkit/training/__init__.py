"""Training: torch utilities (``torchtrain``: one process or torchrun/DDP, resumable atomic
checkpoints with their records), the DeblurGAN and adaptive-basis trainers and their data sets,
and Keras model saving/loading with records (``keras``).
"""

