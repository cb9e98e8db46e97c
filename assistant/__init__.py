"""Multimodal shopping assistant: catalog in, learned image–text space, Chroma index, search out."""

__version__ = "0.1.0"
