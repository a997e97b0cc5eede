"""``gap``: uniform attention, the mean of the encoded regions (eqs. 1, 3 and 6): the paper's whole-image row."""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "gap",
        attention("none"),
        attends="none: uniform weights",
        purpose="whole-image baseline (the paper's 70% row)",
        rank=0,
        default_run=True,
    )
)
