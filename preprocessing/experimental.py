"""``pp.experimental``: tf.Transform's ``tft.experimental`` functions that featurebeam has.

>>> sorted(pp.experimental.__all__)[:2]
['approximate_vocabulary', 'compute_and_apply_approximate_vocabulary']
"""

from preprocessing._annotations import get_vocabulary_size_by_name
from preprocessing._approximate_vocabulary import approximate_vocabulary, compute_and_apply_approximate_vocabulary

__all__ = [
    "approximate_vocabulary",
    "compute_and_apply_approximate_vocabulary",
    "get_vocabulary_size_by_name",
]
