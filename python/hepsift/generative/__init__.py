"""Generative models of the high-level features of one process, exported to ONNX as samplers.

* :class:`BetaVAE` -- beta-VAE with loss (1 - beta) * MSE + beta * KL; sampling decodes
  latent points from a Gaussian mixture fitted to the latent codes (ex-post density estimation);
* :class:`AlphaVAE` -- the same network sampled from a buffer of encoded training events
  smudged by alpha (Otten et al., Nature Commun. 12 (2021) 2985);
* :class:`NormalizingFlow` -- neural spline (or masked autoregressive) flow from ``zuko``,
  the stronger baseline; sampling inverts the flow on standard-normal noise;
* :class:`ObjectListGenerator` -- whole events as typed object lists (multiplicities, pT-ordered
  objects, missing E_T) learnt from DarkMachines CSV files, sampled as jagged columns.

All export ``noise (n, latent_dim) -> features (n, n_features)`` with ``kind="generator"``
(:meth:`Generator.to_onnx`), which :func:`hepsift.rdf.sample` runs inside RDataFrame.
Fidelity measures and generation speed are in :mod:`hepsift.generative.fidelity`.
"""

from __future__ import annotations

from hepsift._saved import load
from hepsift.generative._base import GENERATED_FEATURES_KEY, NOISE_PREFIX, Generator
from hepsift.generative._models import (
    AlphaVAE,
    AlphaVAEConfig,
    BetaVAE,
    BetaVAEConfig,
    NormalizingFlow,
    NormalizingFlowConfig,
)
from hepsift.generative._noise import counter_noise
from hepsift.generative._objects import (
    OBJECT_LISTS_KEY,
    OBJECT_TYPES,
    ObjectListGenerator,
    ObjectListGeneratorConfig,
)
from hepsift.generative.fidelity import fidelity, generation_speed, two_sample_auc

__all__ = [
    "AlphaVAE",
    "AlphaVAEConfig",
    "BetaVAE",
    "BetaVAEConfig",
    "NormalizingFlow",
    "NormalizingFlowConfig",
    "ObjectListGenerator",
    "ObjectListGeneratorConfig",
    "OBJECT_LISTS_KEY",
    "OBJECT_TYPES",
    "counter_noise",
    "Generator",
    "GENERATED_FEATURES_KEY",
    "NOISE_PREFIX",
    "fidelity",
    "generation_speed",
    "two_sample_auc",
    "load",
]
