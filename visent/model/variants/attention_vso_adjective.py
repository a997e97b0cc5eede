"""``attention-vso-adjective``: steered by the VSO adjectives in the image's text, the paper's own kind of
attribute where a text has one."""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "attention-vso-adjective",
        attention("attribute"),
        attends="the VSO adjectives in the image's text (none: a learned default)",
        purpose="the paper's attribute where the text names one: VSO adjectives found in the text",
        attribute_source="vso-adjective",
        rank=74,
        default_run=True,
    )
)
