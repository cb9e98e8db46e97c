"""First run: train the space and index the catalog when they are missing; later runs reuse both. The demo
catalog shipped in the repository comes with a prebuilt bundle (its model and vectors): its first run
installs and loads those instead of training and embedding."""

from __future__ import annotations

import logging
from pathlib import Path

from .bundle import MANIFEST, Prebuilt, bundled_model, install_model, load_prebuilt, model_files, read_manifest, serves
from .catalog import CatalogError, catalog_file, read_catalog
from .config import Settings
from .engine import Engine
from .index import ProductIndex
from .ingest import ingest
from .photo import stale_heads
from .space import CARD, WEIGHTS, JointSpace
from .train import train
from .train_photo import train_photo_heads

log = logging.getLogger(__name__)

NO_CATALOG = ("No catalog found at {path}. Point CATALOG_DIR at a folder with products.jsonl (see catalog/README.md), "
              "or make one from the public Hugging Face dataset: "
              "python -m assistant catalog import-hf --out catalog/fashion")


def ensure_ready(settings: Settings) -> Engine:
    """An engine over a trained model and a filled index, building whatever is missing."""
    index = ProductIndex(settings.index_path, settings.chroma_host, settings.chroma_port, settings.collection_prefix)
    bundle = Path(settings.bundle_dir) if settings.bundle_dir else None
    if any((settings.model_path / name).exists() for name in (WEIGHTS, CARD)):
        space = JointSpace.load(settings.model_path)  # half a model is a damaged one (named), not a first run
    elif bundle is not None and serves(bundle, settings.catalog_dir):
        log.info("first run: the model prebuilt in %s", bundle)
        install_model(bundle, settings.model_path)
        space = JointSpace.load(settings.model_path)
    else:
        try:
            catalog_file(settings.catalog_dir)
        except CatalogError:
            raise CatalogError(NO_CATALOG.format(path=settings.catalog_dir)) from None
        log.info("first run: training the joint space on %s (a few minutes)", settings.catalog_dir)
        space = train(read_catalog(settings.catalog_dir), settings, settings.model_path)
    if stale_heads(settings.model_path):
        log.info("the photo heads in %s read an older photo input: training them again on %s (a few minutes)",
                 settings.model_path, settings.catalog_dir)
        train_photo_heads(read_catalog(settings.catalog_dir), settings, settings.model_path)
    if index.count() == 0:
        log.info("first run: indexing the catalog %s", settings.catalog_dir)
        report = ingest([settings.catalog_dir], space, index, settings, prebuilt=prebuilt_for(bundle, settings))
        log.info("indexed: %s", report.summary())
    return Engine(settings, space=space, index=index)


def prebuilt_for(bundle: Path | None, settings: Settings) -> Prebuilt | None:
    """The bundle's vectors when they were made with this very model (every model file the same; else
    there is nothing to reuse, and ingest checks the settings too)."""
    if bundle is None or not (bundle / MANIFEST).is_file():
        return None
    if bundled_model(read_manifest(bundle)) != model_files(settings.model_path):
        return None
    return load_prebuilt(bundle)
