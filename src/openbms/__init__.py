"""openbms: an open-source building management system.

Everything is a point: drivers turn protocol traffic into samples of points,
the historian stores them, control logic commands them, the API shows them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
