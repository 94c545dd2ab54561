"""lsr's version, recorded in the manifests of the indexes it builds."""

__version__ = "0.2.0"
