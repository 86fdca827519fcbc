"""LightningModules and their networks: ``EmotionClassifier`` wraps any network in ``components``."""
from lightning_modules.classifier import EmotionClassifier

__all__ = ["EmotionClassifier"]
