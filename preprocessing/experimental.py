"""``pp.experimental``: featurebeam's counterparts of ``tensorflow_transform.experimental``.

>>> sorted(pp.experimental.__all__)[:3]
['approximate_vocabulary', 'compute_and_apply_approximate_vocabulary', 'get_vocabulary_size_by_name']
"""

from preprocessing._annotations import get_vocabulary_size_by_name
from preprocessing._approximate_vocabulary import approximate_vocabulary, compute_and_apply_approximate_vocabulary
from preprocessing._ptransform import ptransform_analyzer

__all__ = [
    "approximate_vocabulary",
    "compute_and_apply_approximate_vocabulary",
    "get_vocabulary_size_by_name",
    "ptransform_analyzer",
]
