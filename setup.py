"""featurebeam: batch feature transformation for machine learning on Apache Beam.

This file is also what Dataflow workers install (``--setup_file``), so it must
stay self-contained and must not import the project.
"""

from setuptools import setup

# Versions that install together from a clean Python 3.11 virtualenv.
INSTALL_REQUIRES = [
    "apache-beam[gcp]==2.77.0",
    "tensorflow==2.21.0",
    "pyarrow==25.0.1",
    "numpy==2.4.6",
    "PyYAML==6.0.4",
    "tensorflow-metadata==1.21.0",
]

TEST_REQUIRES = [
    "tensorflow-transform==1.21.0",
    "tfx-bsl==1.21.0",
    "pytest==9.2.0",
    "hypothesis==6.170.17",
]

setup(
    name="featurebeam",
    version="0.1.0",
    description="Full-pass feature transformations (tf.Transform API) on Apache Beam",
    python_requires=">=3.11,<3.12",
    packages=["featurebeam_base", "analyzers", "preprocessing", "beam_jobs"],
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES},
    entry_points={"console_scripts": ["featurebeam = beam_jobs.cli:console_main"]},
)
