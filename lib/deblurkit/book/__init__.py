"""The book's machinery: ``glue`` (values into the prose, the chapter clock), ``verdicts`` (judging
the seeds' claims), ``checkpoints`` (the one checkpoint path and its record), ``widgets`` (the
explorers), ``plotting`` (labelled figures).
"""

