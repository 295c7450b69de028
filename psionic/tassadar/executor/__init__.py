"""The constructed executor: a transformer whose hand-built weights emit Tassadar traces.

``compiler`` builds the weights, ``model`` runs them, ``decode`` is the
``linear`` decode mode, ``card`` describes every head (docs/TASSADAR_EXECUTOR.md).
"""
