"""Fitting ensembles of trained models: seed 000's stacked meta-learner over concatenated logits,
and plain or weighted logit averaging. What they are saved as, and the combiners that load from
it, live in prediction/ (ensemble_artefact.py, combiners.py), so the saved ensemble loads like a
single model without prediction/ importing this package."""
