"""Export trained networks to formats other tools load: a transformers model folder and ONNX."""
