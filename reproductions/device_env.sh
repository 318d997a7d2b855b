# Sourced by the gpu_*.sh scripts on a lent GPU machine: that machine has JAX, flax,
# optax, PyTorch and scikit-learn but not gymnasium or MuJoCo, whose wheels travel in
# .whl (downloaded here with `pip download --no-deps --only-binary=:all: --python-version
# 3.12 --platform manylinux_2_28_x86_64 ... -d .whl gymnasium==1.4.0 mujoco==3.11.0
# farama-notifications glfw`); onemode itself runs from src/.
if ! python3 -c "import mujoco, gymnasium" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
echo "$(nproc) CPU cores"
