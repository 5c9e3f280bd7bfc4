"""Analyzer math over numpy/Arrow batches: no TensorFlow here.

The Beam CombineFns carrying this math live in ``analyzers.combine_fns`` and
are imported from there explicitly, so that importing the specs does not pull
in Apache Beam.
"""

from analyzers._specs import (
    AnalyzerSpec,
    MeanAndVarSpec,
    MinMaxSpec,
    QuantilesSpec,
    SizeSpec,
    SumSpec,
    VocabularySpec,
)
from analyzers._vocabulary import write_vocabulary_file

__all__ = [
    "AnalyzerSpec",
    "MeanAndVarSpec",
    "MinMaxSpec",
    "QuantilesSpec",
    "SizeSpec",
    "SumSpec",
    "VocabularySpec",
    "write_vocabulary_file",
]
