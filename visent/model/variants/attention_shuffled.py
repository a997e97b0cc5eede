"""``attention-shuffled``: the paper's model with a random other adjective: does the true one matter?"""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "attention-shuffled",
        attention("attribute"),
        attends="a random other adjective",
        purpose="control: a random other adjective as the query",
        attribute_source="shuffled",
        rank=20,
        default_run=True,
    )
)
