"""Throughput and memory benchmarks of visent, each beside a naive reference measured in the same run.

``python benchmarks/run.py`` (``make bench``) measures the CPU; ``python benchmarks/gpu.py`` the GPU.
"""
