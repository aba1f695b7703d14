#!/usr/bin/env bash
# Download, on a connected machine, the pure-Python wheels that a GPU image without Jupyter lacks
# for benchmarks/gpu_check.sh (IPython and ipywidgets, which the chapters import, and pooch, which
# harlearn.data imports), into .whl/ at the repository root (ignored by git: add `/.whl/` to
# .git/info/exclude). gpu_check.sh installs them into a temporary folder. The versions are the
# tested stack's (the venv of requirements.txt); the target is CPython 3.12 (the GPU image's).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl \
    pooch==1.9.0 platformdirs==4.14.9 \
    ipython==9.18.1 ipython_pygments_lexers==1.1.1 jedi==0.20.1 parso==0.8.7 matplotlib-inline==0.2.2 \
    pexpect==4.9.0 ptyprocess==0.7.0 prompt_toolkit==3.0.53 wcwidth==0.9.4 stack_data==0.6.3 \
    asttokens==3.0.2 executing==2.3.0 pure_eval==0.2.4 traitlets==5.16.1 \
    ipywidgets==8.1.9 comm==0.2.3 jupyterlab_widgets==3.0.17 widgetsnbextension==4.0.16
ls -1 .whl/*.whl | wc -l | sed 's/$/ wheels in .whl\//'
du -sh .whl
