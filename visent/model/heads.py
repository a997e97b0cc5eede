"""The heads that read the cached regions: the paper's attention model and the baselines.

``AttributeAttention`` holds the parameters of eqs. (1), (2) and (6) as ``nn.Linear`` modules and
calls the pure functions of ``visent.model.equations`` in the paper's order. The variants
(``visent.model.variants``) build these heads and differ only in where the attention query comes
from, so every comparison in the reproduction report changes one thing at a time.
"""

from __future__ import annotations

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

QUERIES = ("attribute", "learned", "none")
PROBE_INPUTS = ("regions", "query")


class AttributeAttention(nn.Module):
    """Attribute-guided attention over the N conv5_3 regions (eqs. 1-6; N = 196 at 224 px).

    Args:
        region_dim: channels of a region vector ``V_i`` (512 for VGG-16 conv5_3).
        word_dim: size of the attribute's word vector ``a`` (50 for GloVe 6B 50d).
        hidden_dim: size of the joint space of ``vE`` and ``aE``.
        num_classes: 2 for binary sentiment.
        query: ``"attribute"`` (the paper: ``a`` is given per image), ``"learned"`` (one learned
            vector stands in for ``a``: image-only attention) or ``"none"`` (uniform weights: the
            whole-image average, the paper's baseline).
    """

    def __init__(
        self,
        region_dim: int,
        word_dim: int,
        hidden_dim: int,
        num_classes: int = 2,
        query: str = "attribute",
    ) -> None:
        super().__init__()
        if query not in QUERIES:
            raise ValueError(f"query must be one of {QUERIES}, got {query!r}")
        self.query = query
        self.encode_regions = nn.Linear(region_dim, hidden_dim)  # eq. (1): W_v, b_v
        self.encode_attribute = nn.Linear(word_dim, hidden_dim)  # eq. (2): W_a, b_a
        self.classifier = nn.Linear(hidden_dim, num_classes)  # eq. (6): W_s, b_s
        if query == "none":
            # Unused without a query; frozen so that optimisers and DDP skip it.
            self.encode_attribute.requires_grad_(False)
        if query == "learned":
            # Scaled like a GloVe 50d vector (norm ~5), so aE starts alive rather than all-zero.
            self.learned_a = nn.Parameter(torch.randn(word_dim) * 0.7)

    def _attend(self, V: Tensor, a: Tensor | None) -> tuple[Tensor, Tensor]:
        """Eqs. (1), (2), (4), (5): the encoded regions ``vE`` ``(B, 196, d)`` and weights ``o`` ``(B, 196)``."""
        V = V.to(self.encode_regions.weight.dtype)
        vE = eq1_encode_regions(V, self.encode_regions.weight, self.encode_regions.bias)  # (B, 196, d)
        if self.query == "none":
            o = torch.full(vE.shape[:2], 1.0 / vE.shape[1], dtype=vE.dtype, device=vE.device)
        else:
            if self.query == "learned":
                a = self.learned_a.expand(V.shape[0], -1)
            elif a is None:
                raise ValueError("query='attribute' needs the attribute vectors `a` (B, word_dim)")
            aE = eq2_encode_attribute(
                a.to(vE.dtype), self.encode_attribute.weight, self.encode_attribute.bias
            )  # (B, d)
            o = eq5_normalise(eq4_scores(aE, vE))  # (B, 196)
        return vE, o

    def forward(
        self, V: Tensor, a: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Logits ``(B, num_classes)`` for regions ``V`` ``(B, 196, region_dim)`` and attribute
        vectors ``a`` ``(B, word_dim)``; with ``return_attention`` also ``o`` ``(B, 196)``."""
        vE, o = self._attend(V, a)  # (B, 196, d), (B, 196)
        g = eq3_pool(o, vE)  # (B, d)
        logits = eq6_classify(g, self.classifier.weight, self.classifier.bias)  # (B, C)
        return (logits, o) if return_attention else logits

    def region_evidence(self, V: Tensor, a: Tensor | None = None) -> Tensor:
        r"""Each region's share of the binary logit margin, ``(B, 196)``; rows sum to ``z_1 - z_0``.

        With $u = W_s[1] - W_s[0]$ and $c = b_s[1] - b_s[0]$, eqs. (3), (5) and (6) give
        $z_1 - z_0 = \sum_i o_i (u \cdot v^E_i + c)$, because the weights sum to one. Region $i$'s
        term is returned. Since eq. (5) divides by a positive number, the decision's sign is that of
        $\sum_i \mathrm{ReLU}(s_i)(u \cdot v^E_i + c)$: a sum of one function of each region alone,
        the same form as the whole-image model's decision (the book's "What image-only attention can add").
        """
        if self.classifier.out_features != 2:
            classes = self.classifier.out_features
            raise ValueError(f"region_evidence needs a binary classifier, this one has {classes} classes")
        vE, o = self._attend(V, a)  # (B, 196, d), (B, 196)
        u = self.classifier.weight[1] - self.classifier.weight[0]  # (d,)
        c = self.classifier.bias[1] - self.classifier.bias[0]
        return o * (vE @ u + c)  # (B, 196)


class AdjectiveOnly(nn.Module):
    """No image at all: logistic regression on the attribute's word vector.

    The ceiling of the label leak: whatever this scores, the attention model can score by routing
    the adjective's polarity through its attention weights.
    """

    def __init__(self, word_dim: int, num_classes: int = 2) -> None:
        super().__init__()
        self.classifier = nn.Linear(word_dim, num_classes)

    def forward(
        self, V: Tensor | None, a: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, None]:
        if a is None:
            raise ValueError("AdjectiveOnly needs the attribute vectors `a` (B, word_dim)")
        logits = self.classifier(a.to(self.classifier.weight.dtype))
        return (logits, None) if return_attention else logits


class LinearProbe(nn.Module):
    """The standard frozen-feature baseline: logistic regression on one vector per image, standardised
    with the training images' mean and sd (``visent.training.probe`` fits it). The vector is the
    whole-image mean of the regions (``reads="regions"``) or the query ``a`` (``reads="query"``: the
    words alone, no image)."""

    mean: Tensor
    std: Tensor

    def __init__(self, in_dim: int, num_classes: int = 2, reads: str = "regions") -> None:
        super().__init__()
        if reads not in PROBE_INPUTS:
            raise ValueError(f"reads must be one of {PROBE_INPUTS}, got {reads!r}")
        self.reads = reads
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.classifier = nn.Linear(in_dim, num_classes)

    def inputs(self, V: Tensor | None, a: Tensor | None) -> Tensor:
        """The vector the probe reads, unstandardised: ``(B, N, D)`` regions -> their mean ``(B, D)``, or ``a``."""
        x = V if self.reads == "regions" else a
        if x is None:
            raise ValueError(f"this probe reads the {self.reads}, which were not given")
        x = x.to(self.mean.dtype)
        return x.mean(dim=1) if self.reads == "regions" else x

    def forward(
        self, V: Tensor | None, a: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, None]:
        logits = self.classifier((self.inputs(V, a) - self.mean) / self.std)
        return (logits, None) if return_attention else logits


#: The size of the learned query of ``attention-learned``, which reads no word vectors: that of
#: GloVe 6B 50d, so that it starts on the scale of a word vector.
LEARNED_QUERY_DIM = 50
