"""Prediction with trained models: one loading interface for checkpoints and ensembles, and
segment-wise prediction on recordings of any length and format."""
