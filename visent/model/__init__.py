"""The model of eqs. (1)-(6): the equations, the heads, the variants and their queries, word vectors."""

from visent.model.heads import QUERIES, AdjectiveOnly, AttributeAttention, LinearProbe
from visent.model.variants import VARIANTS, Variant, build_model, default_variants, missing_inputs

__all__ = [
    "QUERIES",
    "VARIANTS",
    "AdjectiveOnly",
    "AttributeAttention",
    "LinearProbe",
    "Variant",
    "build_model",
    "default_variants",
    "missing_inputs",
]
