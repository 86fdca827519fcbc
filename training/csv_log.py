"""A CSV logger that a resumed run continues instead of wiping.

Lightning 2.6's CSV ``ExperimentWriter`` deletes ``metrics.csv`` when its folder already holds
files (fabric/loggers/csv_logs.py, ``_check_log_dir_exists``), so a run resumed after a requeue
or a crash in the same run folder loses every metric logged before. This writer keeps the file,
starts from its header, and appends; a later new metric rewrites the header with the old rows kept
(Lightning's own ``_rewrite_with_new_header``). Steps between the last checkpoint and a crash are
logged twice, once by each attempt, as they were run twice.
"""
from __future__ import annotations

import csv
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class AppendingExperimentWriter(ExperimentWriter):
    """ExperimentWriter that keeps an existing metrics.csv and appends to it."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as stream:
                self.metrics_keys = sorted(next(csv.reader(stream), []))


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` survives a resume into the same folder."""

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment
