"""``pp.experimental``: featurebeam's counterparts of ``tensorflow_transform.experimental``.

>>> sorted(pp.experimental.__all__)
['ptransform_analyzer']
"""

from preprocessing._ptransform import ptransform_analyzer

__all__ = ["ptransform_analyzer"]
