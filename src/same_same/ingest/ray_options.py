"""What ``ingest --ray`` needs to know, as plain picklable values (importing this needs no ray).

The cluster's actors build their own embedder from an :class:`EmbedderRecipe` (a
registry name and its options) instead of receiving a loaded model: a model does not
travel well, and each actor should load its own copy on its own device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..embedders import Embedder, EmbedderOptions, create_embedder
from ..errors import InvalidInputError

AUTO_CLUSTER = "auto"
"""Start a local cluster on this machine (loopback only) for the run."""

FORWARDED_ENV_PREFIX = "SAME_SAME_"
"""Settings the actors read the way the driver does (``SAME_SAME_CLIP_MODEL``...)."""


@dataclass(frozen=True)
class EmbedderRecipe:
    """How to build the driver's embedder again on a worker: ``create_embedder(name, options)``.

    ``environment``: the driver's ``SAME_SAME_*`` variables, set on the worker before it
    builds, so defaults that come from the environment resolve the same way there.
    Model files given as paths (``--clip-model CONFIG.json --clip-pretrain FILE``) must
    exist at the same paths on the workers (true of a local cluster).
    """

    name: str
    options: EmbedderOptions = field(default_factory=EmbedderOptions)
    environment: tuple[tuple[str, str], ...] = ()

    @classmethod
    def capture(cls, name: str, options: EmbedderOptions) -> EmbedderRecipe:
        """The recipe of ``create_embedder(name, options)`` in this process's environment."""
        environment = tuple(
            sorted((key, value) for key, value in os.environ.items()
                   if key.startswith(FORWARDED_ENV_PREFIX))
        )
        return cls(name, options, environment)

    def build(self) -> Embedder:
        for key, value in self.environment:
            os.environ.setdefault(key, value)
        return create_embedder(self.name, self.options)


@dataclass(frozen=True)
class RayOptions:
    """``--ray [ADDRESS]`` and ``--ray-actors N``.

    ``address``: ``auto`` (a local cluster started for the run, or the one this process
    is already connected to), ``ray://HOST:PORT`` (Ray Client) or ``HOST:PORT`` (a
    cluster's head). ``actors``: embedding actors, one model each (None: one per GPU
    of the cluster, or one per 4 CPUs). ``recipe``: how the actors build the embedder.
    """

    recipe: EmbedderRecipe
    address: str = AUTO_CLUSTER
    actors: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address.strip():
            raise InvalidInputError("--ray takes auto or a cluster address (ray://HOST:PORT)")
        if self.actors is not None and (
            isinstance(self.actors, bool) or not isinstance(self.actors, int) or self.actors < 1
        ):
            raise InvalidInputError("--ray-actors must be at least 1")
