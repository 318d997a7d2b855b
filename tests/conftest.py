"""Test-session settings."""

import tempfile

import jax

# Tests train many small runs whose jitted functions repeat (a run, its cut copy and its
# resumption compile the same updates): XLA's persistent cache compiles each once.
jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="onemode-xla-cache-"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
