"""`groqstream bench`: latency and throughput sweeps against any OpenAI-compatible endpoint.

The same measuring machinery as the SDK itself (`fan_out`, `StreamMetrics`,
`LatencyReport`), with synthetic workloads, arrival processes and report writers.
"""

from .runner import LevelResult, SweepConfig, run_sweep
from .workload import arrival_gaps, synthetic_prompt

__all__ = ["LevelResult", "SweepConfig", "arrival_gaps", "run_sweep", "synthetic_prompt"]
