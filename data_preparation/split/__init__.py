"""Which split each clip lands in: train/val/test, per corpus, folds, and published partitions (EmoBox)."""
