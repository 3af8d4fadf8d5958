"""The package list, the one thing pyproject.toml cannot say (everything else is there): every gpuml subpackage,
found automatically, plus the folders that ship inside gpuml from elsewhere in the repo (pyproject's package-dir):
the WGSL kernels (shaders/ -> gpuml.shaders, subfolders included) and the web page (web/site/ -> gpuml.site)."""

from setuptools import find_namespace_packages, find_packages, setup

shader_dirs = find_namespace_packages(where="shaders", exclude=["*__pycache__*"])
setup(
    packages=[
        *find_packages(include=["gpuml", "gpuml.*"]),
        "gpuml.shaders",
        *(f"gpuml.shaders.{name}" for name in shader_dirs),
        "gpuml.site",
    ]
)
