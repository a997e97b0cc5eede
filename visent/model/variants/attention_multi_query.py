"""``attention-multi-query``: K learned queries instead of one, each attending over the regions with
eqs. (2), (4) and (5); their pooled vectors (eq. 3) are averaged before eq. (6). Image-only, like
``attention-learned``, which it equals for K = 1: can several looks find what one does not?

This module is the whole of the variant: the head and its registration. The architecture
chapter shows it as the example of a new variant.
"""

import torch
from torch import Tensor, nn

from visent.model.equations import (
    eq1_encode_regions,
    eq2_encode_attribute,
    eq3_pool,
    eq4_scores,
    eq5_normalise,
    eq6_classify,
)
from visent.model.heads import LEARNED_QUERY_DIM
from visent.model.variants import Variant, register

#: How many learned queries the registered variant has.
K = 4


class MultiQueryAttention(nn.Module):
    """Eqs. (1)-(6) with ``k`` learned queries ``q_1 .. q_k`` in place of the adjective ``a``."""

    def __init__(self, region_dim: int, hidden_dim: int, num_classes: int = 2, k: int = K) -> None:
        super().__init__()
        self.encode_regions = nn.Linear(region_dim, hidden_dim)  # eq. (1): W_v, b_v
        self.encode_attribute = nn.Linear(LEARNED_QUERY_DIM, hidden_dim)  # eq. (2): W_a, b_a, shared by the queries
        self.classifier = nn.Linear(hidden_dim, num_classes)  # eq. (6): W_s, b_s
        # Scaled like a GloVe 50d vector, as attention-learned's one query.
        self.queries = nn.Parameter(torch.randn(k, LEARNED_QUERY_DIM) * 0.7)  # (k, 50)

    def forward(
        self, V: Tensor, a: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Logits ``(B, C)``; with ``return_attention`` also the queries' mean attention ``o`` ``(B, N)``."""
        V = V.to(self.encode_regions.weight.dtype)
        vE = eq1_encode_regions(V, self.encode_regions.weight, self.encode_regions.bias)  # (B, N, d)
        aE = eq2_encode_attribute(self.queries, self.encode_attribute.weight, self.encode_attribute.bias)  # (k, d)
        B, k = vE.shape[0], aE.shape[0]
        vE_k = vE.repeat_interleave(k, dim=0)  # (B k, N, d): image b's regions once per query
        o_k = eq5_normalise(eq4_scores(aE.repeat(B, 1), vE_k))  # (B k, N)
        g = eq3_pool(o_k, vE_k).view(B, k, -1).mean(dim=1)  # (B, d)
        logits = eq6_classify(g, self.classifier.weight, self.classifier.bias)  # (B, C)
        o = o_k.view(B, k, -1).mean(dim=1)  # (B, N): the mean of k distributions, so it sums to 1
        return (logits, o) if return_attention else logits


def _build(region_dim: int, word_dim: int | None, hidden_dim: int, num_classes: int) -> nn.Module:
    return MultiQueryAttention(region_dim, hidden_dim, num_classes)


register(
    Variant(
        "attention-multi-query",
        _build,
        attends=f"{K} learned vectors, their pooled regions averaged",
        purpose="image-only attention with several learned queries (the example of a new variant)",
        rank=45,
    )
)
