"""Data: images bundled with installed packages and the book's one split (``bundled``), synthetic
training and evaluation sets with known blur (``synthetic``), and loaders for external data sets a
reader may own (``external``: GoPro, Koehler, the Kaggle blur data set). Everything public is
re-exported here, so ``from deblurkit import data`` then ``data.split_names(...)`` works; each
name is defined once, in the module listed."""

from .bundled import (  # noqa: F401
    IMAGE_KINDS,
    SPLITS,
    as_rgb,
    bundled_image,
    bundled_image_names,
    bundled_square,
    center_crop,
    patches,
    random_crops,
    resize,
    split_names,
    standardise,
)
from .external import (  # noqa: F401
    GOPRO_FOLDERS,
    GOPRO_VALIDATION_FRACTION,
    dataset_root,
    find_gopro,
    gopro_pairs,
    gopro_sequences,
    gopro_split,
    kohler_pairs,
    load_kaggle_pairs,
    paired_image_files,
    read_image,
    read_rgb,
)
from .synthetic import (  # noqa: F401
    FORMATIONS,
    acceleration_dataset,
    camera_defocus_view,
    defocus_pairs,
    nonuniform_blur_dataset,
    nonuniform_blur_example,
    observe,
    random_region_masks,
    reach_px,
)

__all__ = ['IMAGE_KINDS', 'SPLITS', 'split_names', 'bundled_image_names', 'bundled_image', 'center_crop', 'random_crops', 'patches', 'resize', 'bundled_square', 'standardise', 'as_rgb', 'random_region_masks', 'nonuniform_blur_example', 'nonuniform_blur_dataset', 'FORMATIONS', 'reach_px', 'observe', 'acceleration_dataset', 'camera_defocus_view', 'defocus_pairs', 'kohler_pairs', 'dataset_root', 'paired_image_files', 'read_image', 'read_rgb', 'load_kaggle_pairs', 'GOPRO_FOLDERS', 'GOPRO_VALIDATION_FRACTION', 'find_gopro', 'gopro_sequences', 'gopro_split', 'gopro_pairs']
