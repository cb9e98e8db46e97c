"""Prebuilt bundles: a trained model and a catalog's vectors, shipped beside that catalog (catalog/bundle/
beside catalog/demo/), so a first start loads vectors into the index instead of computing them.

A bundle folder holds `model/` (a copy of every file of the model folder it was made from), the catalog's
joint vectors and photo features as float16 (`vectors.safetensors`), each row's product key
(`vectors.json`: the product's content hash without its location, so a clone elsewhere matches) and
`manifest.json` (which catalog, which model, and the SHA-256 of every file, checked before use).
Written by `python -m assistant bundle` (`make bundle`); read by `bootstrap` (the model) and `ingest`
(the vectors: a product whose content differs from the bundle's is embedded afresh)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from .catalog import catalog_file
from .encoders.base import ModelFileError
from .encoders.base import sha256_file as sha256

log = logging.getLogger(__name__)
MANIFEST, VECTORS, KEYS, MODEL = "manifest.json", "vectors.safetensors", "vectors.json", "model"


def model_files(model_dir: str | Path) -> dict[str, str]:
    """Every file of a model folder (path inside it → SHA-256)."""
    model_dir = Path(model_dir)
    return {str(p.relative_to(model_dir)): sha256(p) for p in sorted(model_dir.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class Prebuilt:
    """A bundle's vectors, looked up by product key (`catalog.product_hash(..., located=False)`)."""

    source: Path
    model_id: str  # `ingest.model_id`: encoders, training data, seed, size, the photo's weight in a product
    model: dict[str, str]  # every file of the model that made the vectors → SHA-256
    keys: dict[str, int]
    joint: np.ndarray  # float16, one row per key
    photos: np.ndarray  # float16

    def fits(self, model_id: str, model_dir: str | Path) -> bool:
        """Made by this very model: the same settings and every model file the same, byte for byte (so
        weights added to the model folder later count too)?"""
        return model_id == self.model_id and model_files(model_dir) == self.model

    def row(self, key: str) -> int | None:
        return self.keys.get(key)


def read_manifest(bundle: str | Path) -> dict:
    path = Path(bundle) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"bundle file missing: {path} (run `make bundle`)") from None
    except (OSError, ValueError) as e:
        raise ModelFileError(f"bundle file damaged: {path} ({type(e).__name__})") from None


def verify(bundle: str | Path, names: list[str] | None = None) -> dict:
    """The manifest, once every file it lists (or `names` of them) matches its SHA-256; else the damaged
    or missing file is named."""
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    files: dict[str, str] = manifest.get("files", {})
    for name in names if names is not None else sorted(files):
        path = bundle / name
        if name not in files or not path.is_file():
            raise ModelFileError(f"bundle file missing: {path} (run `make bundle`)")
        if sha256(path) != files[name]:
            raise ModelFileError(f"bundle file damaged: {path} fails its checksum in {bundle / MANIFEST} "
                                 "(run `make bundle`, or check out the file again)")
    return manifest


def serves(bundle: str | Path, catalog_dir: str | Path) -> bool:
    """Was this bundle made for this catalog folder (the one it sits beside)?"""
    bundle = Path(bundle)
    if not (bundle / MANIFEST).is_file():
        return False
    try:
        made_for = (bundle / read_manifest(bundle)["catalog"]).resolve()
        return made_for == catalog_file(catalog_dir).parent.resolve()
    except (ModelFileError, KeyError, TypeError, OSError, ValueError):
        return False


def install_model(bundle: str | Path, model_dir: str | Path) -> None:
    """Copy the bundle's model files (checksums verified) into `model_dir`."""
    bundle, model_dir = Path(bundle), Path(model_dir)
    names = [f"{MODEL}/{n}" for n in bundled_model(read_manifest(bundle))]
    verify(bundle, names)
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = model_dir / name.removeprefix(MODEL + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(bundle / name, tmp)
        os.replace(tmp, target)  # a file is there whole or not at all
    log.info("model installed from the bundle %s into %s", bundle, model_dir)


def load_prebuilt(bundle: str | Path) -> Prebuilt:
    bundle = Path(bundle)
    manifest = verify(bundle, [VECTORS, KEYS])
    try:
        tensors = load_file(str(bundle / VECTORS))
        keys = json.loads((bundle / KEYS).read_text(encoding="utf-8"))
        joint, photos = tensors["joint"], tensors["photos"]
    except Exception as e:  # verified above, so only a bundle written by something else gets here
        raise ModelFileError(f"bundle file damaged: {bundle / VECTORS} ({type(e).__name__})") from None
    if not (len(keys) == len(joint) == len(photos)):
        raise ModelFileError(f"bundle file damaged: {bundle / VECTORS} and {bundle / KEYS} differ in length")
    return Prebuilt(bundle, manifest["model_id"], bundled_model(manifest), {k: n for n, k in enumerate(keys)},
                    joint, photos)


def bundled_model(manifest: dict) -> dict[str, str]:
    """The model files a bundle carries (path inside the model folder → SHA-256)."""
    return {n.removeprefix(MODEL + "/"): h for n, h in manifest.get("files", {}).items() if n.startswith(MODEL + "/")}


def write_bundle(out: str | Path, catalog_dir: str | Path, model_dir: str | Path, keys: list[str],
                 joint: np.ndarray, photos: np.ndarray, model_id: str, weights_sha256: str) -> dict:
    """Write a bundle: a copy of every file in `model_dir`, the vectors as float16, and the manifest with
    the SHA-256 of each. Byte-for-byte reproducible from the same inputs (no dates, sorted keys)."""
    out, model_dir = Path(out), Path(model_dir)
    if (out / MODEL).exists():
        shutil.rmtree(out / MODEL)
    (out / MODEL).mkdir(parents=True)
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        target = out / MODEL / path.relative_to(model_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    save_file({"joint": np.ascontiguousarray(joint, np.float16), "photos": np.ascontiguousarray(photos, np.float16)},
              str(out / VECTORS))
    (out / KEYS).write_text(json.dumps(keys) + "\n", encoding="utf-8")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {
        "catalog": os.path.relpath(catalog_file(catalog_dir).parent.resolve(), out.resolve()),
        "products": len(keys),
        "model_id": model_id,
        "weights_sha256": weights_sha256,
        "files": {name: sha256(out / name) for name in files},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest
