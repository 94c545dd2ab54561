"""Models trained by lsr's own recipes that ship inside the package (``lsr/models/<name>/``).

Each folder loads with plain ``SparseEncoder(path)``; its ``README.md`` is the model card (data,
recipe, teachers, scores, how to reproduce) and ``SHA256SUMS`` the checksums that
:func:`lsr.encoders.names.resolve_model` verifies. Refer to one by its short name in recipes and
on the command line (``lsr.encoders.names.MODELS``).
"""
