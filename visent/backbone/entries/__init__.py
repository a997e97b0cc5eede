"""The weights entries, one module each; :data:`visent.backbone.weights.WEIGHTS` imports them all.

An entry module decorates a resolver ``(argument) -> Weights`` with
:func:`visent.backbone.weights.register_weights`.
"""
