"""Throughput and memory benchmarks of visent, each beside a naive reference measured in the same run.

``python -m benchmarks.run`` (``make bench``) measures the CPU; ``python -m benchmarks.gpu`` the GPU
(from the repository root: the scripts import ``visent`` as installed, or from the checkout there).
"""
