"""Which Beam runner a job names, what kind it is, and the runner object a pipeline gets.

``runner:`` is any runner Beam knows by name (DirectRunner, DataflowRunner,
PortableRunner, FlinkRunner, SparkRunner, PrismRunner, ...) or a runner class
given as ``package.module.ClassName``. Its kind decides what featurebeam
checks before the run:

- ``local``: every worker runs on this machine (DirectRunner, FnApiRunner, PrismRunner);
- ``portable``: Beam's portability layer (PortableRunner, FlinkRunner, SparkRunner):
  workers may run here or on a cluster;
- ``dataflow``: workers are Google Cloud VMs;
- ``other``: a runner class featurebeam does not know.

``runner: DirectRunner`` runs Beam's FnApiRunner as Beam's DirectRunner does,
without its first attempt at the Prism runner: Beam 2.77 downloads Prism from
GitHub with no timeout, which stalls a job on a network that drops packets.
``runner: PrismRunner`` still picks Prism.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.runners.direct.direct_runner import SwitchingDirectRunner

from featurebeam_base.errors import ConfigError
from featurebeam_base.naming import did_you_mean, quote_all

_PATHS = {path.rsplit(".", 1)[1]: path for path in StandardOptions.ALL_KNOWN_RUNNERS}
# The names most jobs use come first in messages.
_COMMON = ("DirectRunner", "DataflowRunner", "PortableRunner", "FlinkRunner", "SparkRunner", "PrismRunner")
KNOWN_RUNNERS = (*_COMMON, *sorted(set(_PATHS) - set(_COMMON)))

# The nearest known base class (in method resolution order) decides the kind.
_KIND_OF = {
    "PrismRunner": "local",  # a PortableRunner whose job service and workers run on this machine
    "SwitchingDirectRunner": "local",
    "BundleBasedDirectRunner": "local",
    "FnApiRunner": "local",
    "TestDirectRunner": "local",
    "InteractiveRunner": "local",
    "DataflowRunner": "dataflow",
    "PortableRunner": "portable",
}


@dataclass(frozen=True)
class RunnerInfo:
    """The job's runner: ``name`` as the job gives it, its class, its kind."""

    name: str
    cls: type

    @property
    def kind(self) -> str:
        for base in self.cls.__mro__:
            if base.__name__ in _KIND_OF:
                return _KIND_OF[base.__name__]
        return "other"

    def is_named(self, *names: str) -> bool:
        """Whether the runner is, or derives from, one of the runner classes ``names``."""
        return any(base.__name__ in names for base in self.cls.__mro__)


def resolve_runner(name: str) -> RunnerInfo:
    """The runner class for a known name or a ``package.module.ClassName``; raises ConfigError."""
    if "." not in name:
        if name not in _PATHS:
            hint = did_you_mean(name, KNOWN_RUNNERS)
            raise ConfigError(
                f"`runner` must be one of {quote_all(KNOWN_RUNNERS)}, or a runner class given as "
                f"package.module.ClassName; got {name!r}{hint}"
            )
        path = _PATHS[name]
    else:
        path = name
    module_name, class_name = path.rsplit(".", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        extra = " (install apache-beam[gcp])" if "dataflow" in module_name else ""
        raise ConfigError(f"`runner` {name!r}: cannot import {module_name}: {error}{extra}") from None
    cls = getattr(module, class_name, None)
    from apache_beam.runners.runner import PipelineRunner

    if not (isinstance(cls, type) and issubclass(cls, PipelineRunner)):
        raise ConfigError(f"`runner` {name!r}: {module_name} has no Beam runner class {class_name!r}")
    return RunnerInfo(name, cls)


class DirectRunnerWithoutPrism(SwitchingDirectRunner):
    """Beam's DirectRunner for batch pipelines, minus its attempt at Prism.

    What Beam's DirectRunner runs once Prism is not available: the
    FnApiRunner, given the encoded pipeline options as its provision info.
    """

    def run_pipeline(self, pipeline, options):
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.runners.portability.portable_runner import JobServiceHandle

        encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
        provision = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
        return fn_runner.FnApiRunner(provision_info=provision).run_pipeline(pipeline, options)


def pipeline_runner(runner: RunnerInfo):
    """The runner object a ``beam.Pipeline`` of this job gets."""
    if runner.cls is SwitchingDirectRunner:  # runner: DirectRunner (Beam's DirectRunner is this class)
        return DirectRunnerWithoutPrism()
    return runner.cls()
