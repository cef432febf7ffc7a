"""Indexing's embedding spread over a Ray cluster (`qa index --ray`, the `ray` extra).

Embedding is the cost of indexing. Each Ray worker is an actor that loads an embedder once and
embeds batches of chunk texts; the driver sends the batches of the local run (EMBED_BATCH texts,
in the same order), so every chunk gets the vector a local run gives it, and writes the index
itself through its StoreWriter.
"""

from __future__ import annotations

import os

import numpy as np

from embeddings.errors import QAError

# What the workers must see as the driver does: threads per process, offline model loading.
_PASSED_ON = ("QA_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "HF_HUB_OFFLINE")
LOCAL = "local"


def require_ray() -> None:
    """Refuse `--ray` before any work when the extra is missing."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise QAError("`qa index --ray` needs `pip install 'qa[ray]'`") from None


class _EmbedWorker:
    """One per CPU of the cluster: the embedders it has loaded, by name."""

    def __init__(self):
        self._embedders = {}

    def embed(self, name: str, texts: list[str]) -> np.ndarray:
        from embeddings.embedders import load_embedder

        if name not in self._embedders:
            self._embedders[name] = load_embedder(name)
        return np.asarray(self._embedders[name].embed_passages(texts), dtype=np.float32)


class RayEmbedding:
    """Embeds lists of texts on a Ray cluster: address "local" starts one on this machine (of
    num_cpus CPUs, default all), any other is handed to ray.init (auto, ray://host:10001)."""

    def __init__(self, address: str, num_cpus: int | None = None, workers: int | None = None):
        require_ray()
        import ray
        from ray.util import ActorPool

        env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
        options = {"num_cpus": num_cpus} if address == LOCAL else {"address": address}
        try:
            self._started = not ray.is_initialized()
            ray.init(
                **options,
                runtime_env={"env_vars": env},
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                ignore_reinit_error=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise QAError(f"cannot start or reach the Ray cluster at {address}: {reason}") from None
        self._ray = ray
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(_EmbedWorker)
        self._pool = ActorPool([actor.remote() for _ in range(count)])
        self.workers = count

    def embed(self, name: str, batches: list[list[str]]) -> list[np.ndarray]:
        """Each batch's vectors, in the order of the batches."""
        return list(self._pool.map(lambda worker, batch: worker.embed.remote(name, batch), batches))

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
