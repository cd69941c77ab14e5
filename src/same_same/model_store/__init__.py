"""Models for air-gapped machines: list, pull, export and import CLIP model bundles.

>>> from same_same.model_store import BundleOptions, export_bundle, import_bundle
>>> export_bundle("ViT-B-32", "openai", Path("bundle.tar"))        # doctest: +SKIP
>>> import_bundle(Path("bundle.tar"), BundleOptions(data_dir=...))  # doctest: +SKIP

After an import, ``ingest -e clip --clip-model ViT-B-32 --clip-pretrain openai`` finds
the model in the models folder (``embedders.clip.model_folders``) and makes no request.
"""

from __future__ import annotations

from .bundle import BundleOptions, ImportedModel, export_bundle, format_size, import_bundle
from .catalog import ModelEntry, list_models
from .contents import ModelContents, gather_model
from .pull import pull_model

__all__ = [
    "BundleOptions",
    "ImportedModel",
    "ModelContents",
    "ModelEntry",
    "export_bundle",
    "format_size",
    "gather_model",
    "import_bundle",
    "list_models",
    "pull_model",
]
