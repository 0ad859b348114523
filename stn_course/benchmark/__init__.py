"""Reproduce the paper's tables with one command.

Usage::

    python -m stn_course.benchmark table1                     # the whole grid, the efficient recipe
    python -m stn_course.benchmark table1 --models cnn st-cnn-aff --distortions R RTS --seeds 3
    python -m stn_course.benchmark table1 --jobs 8            # eight cells at once (one GPU, or CPU cores)
    python -m stn_course.benchmark table1 --schedule paper    # the paper's 150k-step SGD
    python -m stn_course.benchmark table1 --quick             # a few steps, to check the pipeline
    python -m stn_course.benchmark table1 --report            # only rebuild the tables
    python -m stn_course.benchmark addition                   # MNIST addition: FCN, CNN, ST-CNN, 2×ST-CNN
    python -m stn_course.benchmark coloc                      # co-localisation, every digit, both variants
    python -m stn_course.benchmark pose3d --save-weights      # the 3D transformer: front-view loss, classifier, no ST

Each run (model × distortion × seed) writes one JSON file to ``results/table1/`` with its
provenance (command, git commit, device, torch version, seed, schedule, steps, wall time,
throughput) and its validation and test errors; then the runs are aggregated into
``table1.md`` and ``table1.csv`` (mean ± std over seeds). Runs whose JSON exists are skipped,
and an interrupted run resumes from its checkpoint, so running the same command again after
an interruption finishes the grid without losing work.

One module per part: ``provenance`` (where and how a result was produced), ``records`` (run
records on disk and their aggregation), ``report`` (HTML tables and
footnotes for the book), ``comparison`` (Table 1's comparisons with their noise, in sentences), ``schedules`` (how a model trains), ``table1`` (the
MNIST grid), ``addition``, ``colocalisation`` and ``pose3d`` (the appendix's MNIST addition,
co-localisation and 3D transformer) and ``cli`` (the subcommand registry). Other tables plug in through
:func:`register` (``EXTERNAL_SUBCOMMANDS``: Table 2 lives in :mod:`stn_course.svhn.table2`) and
reuse the same provenance and records.
"""

from .comparison import Cell, cell_of, noise_between, versus_base, versus_base_reading, versus_paper_reading
from .cli import EXTERNAL_SUBCOMMANDS, SUBCOMMANDS, main, positive_int, register
from .provenance import REPO_ROOT, device_name, provenance, utc_now
from .records import (HEALTH_INPUTS, RESULTS_DIR, aggregate, checkpoint_path, curves, find_results, format_cell,
                      health_fields, load_runs, load_weights, markdown_table, mean_std, run_id, save_weights_half,
                      write_csv, write_json)
from .report import Footnotes, HTMLTable, best_groups, health_reading, health_table, html_table
from .schedules import ABLATION, ABLATION_CHANGES, SCHEDULES, Schedule, precision_name
from .table1 import (DATA_SEED, PAPER_TABLE1, SUN_LIN_TABLE1, best_cells, how_obtained, images_seen, is_full_length,
                     is_gpu, run_cells, run_table1_cell, table1_data, write_table1)
from . import addition, checkup, colocalisation, pose3d  # noqa: E402  (they register their subcommands)

__all__ = [
    "main", "register", "positive_int", "SUBCOMMANDS", "EXTERNAL_SUBCOMMANDS",
    "provenance", "device_name", "utc_now", "REPO_ROOT",
    "RESULTS_DIR", "HEALTH_INPUTS", "run_id", "write_json", "load_runs", "find_results", "checkpoint_path", "mean_std", "aggregate",
    "format_cell", "health_fields", "write_csv", "markdown_table", "curves", "save_weights_half", "load_weights",
    "HTMLTable", "html_table", "best_groups", "Footnotes", "health_table", "health_reading",
    "Schedule", "SCHEDULES", "ABLATION", "ABLATION_CHANGES", "precision_name",
    "PAPER_TABLE1", "SUN_LIN_TABLE1", "DATA_SEED", "table1_data", "run_table1_cell", "run_cells", "write_table1",
    "best_cells", "how_obtained", "images_seen", "is_gpu", "is_full_length",
    "Cell", "cell_of", "noise_between", "versus_base", "versus_base_reading", "versus_paper_reading",
]
