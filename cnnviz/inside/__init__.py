"""Inside the network: feature maps, filters, activation maximisation, top activating examples, the
layer table with receptive fields and FLOPs, the catalog, the convolution explainer and the
invariance probe. Every function takes a ``LoadedModel`` first and returns a frozen result object;
drawing lives in :mod:`cnnviz.render.inside`.
"""

from cnnviz.inside.architecture import (
    Geometry,
    LayerInfo,
    LayerTable,
    Shrinking,
    layers,
    receptive_field,
    shrinking_after,
)
from cnnviz.inside.catalog import CatalogEntry, Latency, catalog, measure_latency, measured_catalog
from cnnviz.inside.convolution import ConvolutionStep, PoolingStep, explain_convolution
from cnnviz.inside.features import FeatureMaps, LayerMaps, feature_maps
from cnnviz.inside.invariance import TRANSFORMS, InvarianceProbe, invariance_probe
from cnnviz.inside.kernels import Filters, filters, first_convolution
from cnnviz.inside.maximize import Maximization, Penalties, maximize
from cnnviz.inside.top_examples import TopExample, TopExamples, demo_images, folder_images, top_activating

__all__ = [
    "TRANSFORMS",
    "CatalogEntry",
    "ConvolutionStep",
    "FeatureMaps",
    "Filters",
    "Geometry",
    "InvarianceProbe",
    "Latency",
    "LayerInfo",
    "LayerMaps",
    "LayerTable",
    "Maximization",
    "Penalties",
    "PoolingStep",
    "TopExample",
    "TopExamples",
    "catalog",
    "demo_images",
    "explain_convolution",
    "feature_maps",
    "filters",
    "first_convolution",
    "folder_images",
    "invariance_probe",
    "layers",
    "maximize",
    "measure_latency",
    "measured_catalog",
    "receptive_field",
    "shrinking_after",
    "Shrinking",
    "top_activating",
]
