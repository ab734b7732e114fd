# Stands in for a pip-installed certifi in a virtualenv: Mozilla's roots only, never the system
# store (Debian's python3-certifi points at the system store; pip's does not).
from .core import contents, where  # noqa: F401

__version__ = "2024.2.2"
