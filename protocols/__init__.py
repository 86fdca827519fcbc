"""Benchmark protocols: every fold of a cross-validation (or one cross-corpus split) trained and
tested with the same train.py config, then aggregated as mean +- sample std (cross_validate.py)."""
