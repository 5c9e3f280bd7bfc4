"""Analyzer math over numpy/Arrow batches: no TensorFlow here.

Every analyzer is one ``AnalyzerSpec`` subclass, in the module of its family:
its parameters and their checks, its outputs, its accumulator math and how it
is described. The Beam CombineFns carrying this math live in
``analyzers.combine_fns`` and are imported from there explicitly, so that
importing the specs does not pull in Apache Beam.
"""

from analyzers._covariance import CovarianceSpec, PCASpec
from analyzers._histogram import HistogramSpec
from analyzers._numeric import MeanAndVarSpec, MinMaxSpec, SizeSpec, SumSpec
from analyzers._per_key import CountPerKeySpec, MeanAndVarPerKeySpec, MinAndMaxPerKeySpec, QuantilesPerKeySpec
from analyzers._ptransform import PTransformSpec
from analyzers._quantiles import QuantilesSpec
from analyzers._sparse_columns import SparseColumnsSpec
from analyzers._spec import RECORDS_FILE, AnalyzerSpec, Output
from analyzers._tukey import TukeySpec
from analyzers._vocabulary import VocabularySpec, write_vocabulary_file

__all__ = [
    "RECORDS_FILE",
    "AnalyzerSpec",
    "CountPerKeySpec",
    "CovarianceSpec",
    "HistogramSpec",
    "MeanAndVarPerKeySpec",
    "MeanAndVarSpec",
    "MinAndMaxPerKeySpec",
    "MinMaxSpec",
    "Output",
    "QuantilesPerKeySpec",
    "PCASpec",
    "PTransformSpec",
    "QuantilesSpec",
    "SizeSpec",
    "SparseColumnsSpec",
    "SumSpec",
    "TukeySpec",
    "VocabularySpec",
    "write_vocabulary_file",
]
