"""The services one DomainLens server process runs for every face (the dashboard today, the
HTTP API next), in one place and with no streamlit:

- background jobs: trainings and batch scorings, limited per kind and queued beyond that
  (``job_registry``, ``submit_training``, ``submit_batch``, ``limits``);
- preparation of the menu models that must be fitted before first use (``prepare``,
  ``warm_up``, started by an explicit call, never on import);
- live runs within the server's stream limit (``start_live``, ``running_streams``);
- batch jobs submitted to a Ray cluster (``ray_jobs``).
"""

from domains.server import ray_jobs
from domains.server.jobs import BATCH, TRAINING, job_registry, limits, submit_batch, submit_training
from domains.server.live import LiveRun, running_streams, start_live
from domains.server.preparation import prepare, warm_up

__all__ = ["BATCH", "TRAINING", "LiveRun", "job_registry", "limits", "prepare", "ray_jobs", "running_streams",
           "start_live", "submit_batch", "submit_training", "warm_up"]
