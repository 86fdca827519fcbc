"""Networks as plain ``nn.Module``s, plus the pieces they share (pooling, losses, registry).

Importing the package registers every network with :mod:`lightning_modules.components.registry`.
"""
from lightning_modules.components import augmentation, resnet38, seed_cnns, small_cnn, speech_encoder, timm_image  # noqa: F401  (registration; known to --help)
from lightning_modules.components.registry import create_network, list_networks, register_network

__all__ = ["create_network", "list_networks", "register_network"]
