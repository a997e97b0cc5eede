"""The paper's equations (1)-(6) as pure tensor functions.

Shapes follow the paper: ``V`` holds the 196 conv5_3 region vectors of an image (14 x 14 grid at
224 x 224 input, 512 channels); ``a`` is the GloVe vector of the image's adjective ("attribute").
Every function is batched over a leading ``B`` axis and free of state, so the module in
``visent.model`` is a thin container of parameters around them.

Where the printed paper is ambiguous, the reading implemented here is stated in each docstring and
argued in the book's "Our reading" chapter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def eq1_encode_regions(V: Tensor, W_v: Tensor, b_v: Tensor) -> Tensor:
    r"""Eq. (1): $v^E_i = \mathrm{ReLU}(W_v V_i + b_v)$, for every region $i = 1 \dots 196$.

    Args:
        V: region features, ``(B, 196, 512)``.
        W_v: ``(d, 512)``; b_v: ``(d,)``.

    Returns:
        vE: ``(B, 196, d)``, non-negative.
    """
    return F.relu(F.linear(V, W_v, b_v))


def eq2_encode_attribute(a: Tensor, W_a: Tensor, b_a: Tensor) -> Tensor:
    r"""Eq. (2): $a^E = \mathrm{ReLU}(W_a a + b_a)$, $a$ the GloVe vector of the attribute.

    Args:
        a: ``(B, word_dim)``.
        W_a: ``(d, word_dim)``; b_a: ``(d,)``.

    Returns:
        aE: ``(B, d)``, non-negative.
    """
    return F.relu(F.linear(a, W_a, b_a))


def eq4_scores(aE: Tensor, vE: Tensor) -> Tensor:
    r"""Eq. (4): $s_i = a^E \cdot v^E_i$, one relevance score per region.

    Both factors are ReLU outputs, so every score is $\ge 0$: the ReLU of eq. (5) only matters for
    inputs that did not come from eqs. (1)-(2), and an all-zero row (a "dead" attribute encoding)
    is the only way to reach eq. (5)'s zero denominator.

    Args:
        aE: ``(B, d)``; vE: ``(B, N, d)``.

    Returns:
        s: ``(B, N)``.
    """
    return torch.einsum("bd,bnd->bn", aE, vE)


def eq5_normalise(s: Tensor) -> Tensor:
    r"""Eq. (5): $o_i = \mathrm{ReLU}(s_i) / \sum_j \mathrm{ReLU}(s_j)$.

    The paper leaves $\sum_j \mathrm{ReLU}(s_j) = 0$ (every score $\le 0$) undefined. We define
    $o_i = 1/N$ there: with no evidence for any region the model falls back to the whole-image mean,
    the paper's own baseline. The fallback is exact (no epsilon), so weights always sum to 1, and it
    passes no gradient to $s$, which the ReLU would have blocked anyway.

    Args:
        s: ``(B, N)`` scores.

    Returns:
        o: ``(B, N)``, non-negative, each row summing to 1.
    """
    r = F.relu(s)  # (B, N)
    Z = r.sum(dim=-1, keepdim=True)  # (B, 1)
    uniform = torch.full_like(r, 1.0 / r.shape[-1])
    # clamp keeps the discarded branch of `where` finite, so its gradient is 0 instead of NaN.
    return torch.where(Z > 0, r / Z.clamp_min(torch.finfo(r.dtype).tiny), uniform)


def eq3_pool(o: Tensor, vE: Tensor) -> Tensor:
    r"""Eq. (3): $g_i = o_i\, v^E_i$, pooled into the image vector $g = \sum_i g_i$.

    Args:
        o: ``(B, N)`` attention weights; vE: ``(B, N, d)``.

    Returns:
        g: ``(B, d)``.
    """
    return torch.einsum("bn,bnd->bd", o, vE)


def eq6_classify(g: Tensor, W_s: Tensor, b_s: Tensor) -> Tensor:
    r"""Eq. (6): $p = \mathrm{softmax}(W_s g + b_s)$, returned as logits $W_s g + b_s$.

    As printed, eq. (6) reads $p(s) = \sum_i o_i$, which is identically 1 by eq. (5) and cannot be a
    classifier. We read it as the softmax classifier the text describes and train it with
    cross-entropy; logits are returned because ``F.cross_entropy`` applies the softmax itself, in a
    numerically stable way. ``logits.softmax(-1)`` gives $p$.

    Args:
        g: ``(B, d)``; W_s: ``(C, d)``; b_s: ``(C,)``.

    Returns:
        logits: ``(B, C)``.
    """
    return F.linear(g, W_s, b_s)
