"""gpuml WGSL kernels, shipped as package data (``gpuml.shaders``) and read with importlib.resources."""
