"""Test-session settings."""

import os
import shutil
import tempfile

# Tests train many small runs whose jitted functions repeat (a run, its cut copy and its
# resumption compile the same updates; many tests start `onemode` as a subprocess, which
# compiles everything again): XLA's persistent cache compiles each once. Set in the
# environment, before jax is imported, so that the xdist workers (started by this process)
# and every subprocess share one cache; each pytest session starts an empty one.
_CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
_OWN_CACHE = _CACHE_VARIABLE not in os.environ
if _OWN_CACHE:
    os.environ[_CACHE_VARIABLE] = tempfile.mkdtemp(prefix="onemode-xla-cache-")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# A size limit turns on the cache's file lock (the `filelock` package), so that two
# processes never read an entry the other is still writing.
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(8 << 30))

import jax  # noqa: E402,F401  (after the environment above: jax reads it on import)


def pytest_unconfigure(config):
    # the process that made the cache removes it; xdist workers have `workerinput`
    if _OWN_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ[_CACHE_VARIABLE], ignore_errors=True)
