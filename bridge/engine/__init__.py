"""The engine: a model bundle on ONNX Runtime (bundle, runtime), KV-cached decoding (decoder),
the bar-by-bar writer, sampling, scoring, and the Engine that writes ABC (generation)."""
from .generation import Engine

__all__ = ["Engine"]
