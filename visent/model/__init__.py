"""The model of eqs. (1)-(6): the equations, the attention heads and their variants, word vectors."""

from visent.model.variants import (
    QUERIES,
    VARIANTS,
    AdjectiveOnly,
    AttributeAttention,
    LinearProbe,
    Variant,
    build_model,
)

__all__ = ["QUERIES", "VARIANTS", "AdjectiveOnly", "AttributeAttention", "LinearProbe", "Variant", "build_model"]
