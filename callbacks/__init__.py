"""Training callbacks beyond Lightning's own (checkpointing, early stopping, LR and throughput monitors)."""
from callbacks.report import ReportCallback

__all__ = ["ReportCallback"]
