"""Ensembles of trained models: seed 000's stacked meta-learner over concatenated logits, and
plain or weighted logit averaging, saved as one artefact that loads like a single model."""
