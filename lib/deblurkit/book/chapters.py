"""The book's chapters, declared once: file, title, and what each reads and writes.

Every place that needs to know the chapters reads :data:`CHAPTERS`: the book runner's execution
cache (a chapter is re-executed when a checkpoint or verdict record it reads changed), the
messages of :func:`deblurkit.book.checkpoints.require_checkpoint` (which chapter to run for a
missing model), and the tests of the book.

A chapter *writes* checkpoints (trained models under ``data/checkpoints/``, each with its
``.json`` record) and a verdict record (``data/verdicts/<profile>/<chapter>.json``); it *reads*
the checkpoints and verdict records of earlier chapters. Paths depend on the profile and come
from :func:`deblurkit.book.checkpoints.checkpoint_path` and :func:`verdict_record_path`. (This
module imports no other module of the book: ``checkpoints`` reads it for its messages.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Checkpoint:
    """A model a chapter saves, at ``checkpoint_path(chapter, profile, name, ext=ext)``
    (:func:`deblurkit.book.checkpoints.checkpoint_path`; its ``.json`` record beside it)."""

    chapter: str
    name: str | None = None
    ext: str = "keras"


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book.

    Attributes
    ----------
    stem : str
        The notebook's file name without ``.ipynb`` (``"05_adaptive_basis"``).
    title : str
        The notebook's first heading, as written there.
    saves : tuple of Checkpoint
        The models it trains and saves.
    files_verdicts : bool
        Whether it saves a verdict record on its seed's claims.
    reads : tuple of Checkpoint
        Models of other chapters it loads.
    reads_verdicts_of : tuple of str
        Chapters whose verdict records it reads (never its own: a chapter's outputs are not
        its inputs, or every run would invalidate the next).
    external : tuple of str
        Data sets or files under the external data folder it uses when they are present.
    """

    stem: str
    title: str
    saves: tuple[Checkpoint, ...] = ()
    files_verdicts: bool = True
    reads: tuple[Checkpoint, ...] = ()
    reads_verdicts_of: tuple[str, ...] = ()
    external: tuple[str, ...] = ()

    @property
    def number(self) -> str:
        """The two-digit chapter number (``"05"``)."""
        return self.stem[:2]

    @property
    def source(self) -> str:
        """The source notebook, relative to the project root."""
        return f"notebooks/{self.stem}.ipynb"

    def upstream(self) -> tuple[str, ...]:
        """The chapters whose outputs this one reads, in book order, without repeats."""
        named = [c.chapter for c in self.reads] + list(self.reads_verdicts_of)
        return tuple(s for s in STEMS if s in named)


def verdict_record_path(chapter: str, profile: str) -> Path:
    """``data/verdicts/<profile>/<chapter>.json``: where a chapter's verdicts are saved."""
    from ..runtime.files import artifact_path

    return artifact_path("verdicts", profile, f"{chapter}.json")


ESTIMATOR = Checkpoint("02_estimating_acceleration", "estimator")
AUTOENCODER = Checkpoint("03_autoencoder")
SIGMA_CLASSIFIER_10 = Checkpoint("04_sigma_map_cnn", "classifier10")
SIGMA_CLASSIFIER_30 = Checkpoint("04_sigma_map_cnn", "classifier30")
SIGMA_FCN = Checkpoint("04_sigma_map_cnn", "fcn")
ADAPTIVE_BASIS = Checkpoint("05_adaptive_basis", ext="pt")
DEBLURGAN = Checkpoint("06_deblurgan", ext="pt")

_VERDICT_CHAPTERS = (
    "01_acceleration_otf",
    "02_estimating_acceleration",
    "03_autoencoder",
    "04_sigma_map_cnn",
    "05_adaptive_basis",
    "06_deblurgan",
)

#: The chapters in book order.
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("00_blur_models", "Blur models: $g = h * f + n$", files_verdicts=False),
    Chapter("01_acceleration_otf", "The transfer function of uniformly accelerated motion"),
    Chapter("02_estimating_acceleration", "Estimating the acceleration $(a_x, a_y)$ from the blurred image", saves=(ESTIMATOR,)),
    Chapter(
        "03_autoencoder",
        "The autoencoder of the report, exactly, and what its numbers mean",
        saves=(AUTOENCODER,),
        external=("blur-dataset",),
    ),
    Chapter(
        "04_sigma_map_cnn",
        "The σ-map CNN: defocus blur estimated per patch, then per pixel",
        saves=(SIGMA_CLASSIFIER_10, SIGMA_CLASSIFIER_30, SIGMA_FCN),
    ),
    Chapter(
        "05_adaptive_basis",
        "Adaptive basis decomposition: one kernel per pixel, then Richardson–Lucy",
        saves=(ADAPTIVE_BASIS,),
        external=("kohler",),
    ),
    Chapter(
        "06_deblurgan",
        "DeblurGAN: a generator, a critic and random camera shake",
        saves=(DEBLURGAN,),
        external=("GoPro", "GOPRO_Large", "vgg19.pth"),
    ),
    # no seed makes a claim about the L0 method: the chapter files no verdict
    Chapter(
        "07_blind_deconvolution",
        "Blind deconvolution without learning: the L0 gradient prior, coarse to fine",
        files_verdicts=False,
    ),
    Chapter(
        "08_side_by_side",
        "Side by side: every method on one held-out set",
        reads=(ESTIMATOR, AUTOENCODER, SIGMA_CLASSIFIER_30, ADAPTIVE_BASIS, DEBLURGAN),
        reads_verdicts_of=_VERDICT_CHAPTERS,
    ),
)

#: The notebook stems in book order.
STEMS: tuple[str, ...] = tuple(c.stem for c in CHAPTERS)


def chapter(stem: str) -> Chapter:
    """The declaration of the chapter whose notebook stem (or two-digit number) is ``stem``."""
    for c in CHAPTERS:
        if stem in (c.stem, c.number):
            return c
    raise ValueError(f"chapter must be one of {list(STEMS)} (or its two-digit number), got {stem!r}")


def readers(stem: str) -> tuple[str, ...]:
    """The chapters that read ``stem``'s outputs, directly or through another chapter, in book order."""
    found: set[str] = set()
    frontier = {chapter(stem).stem}
    while frontier:
        frontier = {c.stem for c in CHAPTERS if set(c.upstream()) & frontier} - found
        found |= frontier
    return tuple(s for s in STEMS if s in found)


def how_to_make(stem: str, profile: str) -> str:
    """The words that tell a reader how to produce chapter ``stem``'s outputs in ``profile``
    (for a stem that is not declared, its notebook's path)."""
    try:
        c = chapter(stem)
    except ValueError:
        return f"run notebooks/{stem}.ipynb in the {profile!r} profile first (make book PROFILE={profile})"
    return (
        f"run chapter {int(c.number)}, {c.title!r} ({c.source}), in the {profile!r} profile first "
        f"(make book PROFILE={profile}, or: tools/bookrunner.py --profile {profile} --only {c.number})"
    )
