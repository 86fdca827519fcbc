"""Explanations of trained models: Grad-CAM over spectrogram inputs, integrated gradients over time."""
