"""Eqs. (1)-(6) against values computed by hand, the zero-denominator case, and gradients."""

import torch

from visent.model.equations import (
    eq1_encode_regions,
    eq2_encode_attribute,
    eq3_pool,
    eq4_scores,
    eq5_normalise,
    eq6_classify,
)


def test_eq1_is_relu_of_an_affine_map_per_region():
    V = torch.tensor([[[1.0, 2.0], [-3.0, 1.0]]])  # (B=1, N=2, 2)
    W_v = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b_v = torch.tensor([0.0, -1.0])
    vE = eq1_encode_regions(V, W_v, b_v)
    # region 1: [1, 1+2-1] = [1, 2]; region 2: relu([-3, -3]) = [0, 0]
    assert torch.equal(vE, torch.tensor([[[1.0, 2.0], [0.0, 0.0]]]))


def test_eq2_encodes_the_attribute_vector_with_relu():
    aE = eq2_encode_attribute(
        torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.tensor([0.5, 0.0])
    )
    assert torch.equal(aE, torch.tensor([[1.5, 0.0]]))


def test_eq4_scores_are_dot_products_of_aE_with_each_region():
    aE = torch.tensor([[1.0, 2.0]])
    vE = torch.tensor([[[3.0, 1.0], [0.0, 0.5], [2.0, 2.0]]])
    assert torch.equal(eq4_scores(aE, vE), torch.tensor([[5.0, 1.0, 6.0]]))


def test_eq5_normalises_relu_scores_to_sum_one():
    o = eq5_normalise(torch.tensor([[1.0, -2.0, 3.0]]))
    assert torch.allclose(o, torch.tensor([[0.25, 0.0, 0.75]]))


def test_eq5_falls_back_to_uniform_when_every_score_is_non_positive():
    o = eq5_normalise(torch.tensor([[-1.0, 0.0, -3.0, -0.5], [0.0, 2.0, 0.0, 0.0]]))
    assert torch.allclose(o[0], torch.full((4,), 0.25))
    assert torch.allclose(o[1], torch.tensor([0.0, 1.0, 0.0, 0.0]))


def test_eq5_fallback_has_finite_zero_gradient():
    s = torch.tensor([[-1.0, -2.0, 0.0]], requires_grad=True)
    (eq5_normalise(s) * torch.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert torch.equal(s.grad, torch.zeros_like(s))


def test_eq5_gradient_matches_the_quotient_rule():
    s = torch.tensor([[1.0, 3.0]], dtype=torch.float64, requires_grad=True)
    eq5_normalise(s)[0, 0].backward()
    # d(s1 / (s1 + s2)) / ds1 = s2 / (s1+s2)^2 = 3/16; d/ds2 = -s1 / (s1+s2)^2 = -1/16
    assert torch.allclose(s.grad, torch.tensor([[3 / 16, -1 / 16]], dtype=torch.float64))


def test_eq3_pools_regions_weighted_by_attention():
    o = torch.tensor([[0.25, 0.75]])
    vE = torch.tensor([[[4.0, 0.0], [0.0, 8.0]]])
    assert torch.equal(eq3_pool(o, vE), torch.tensor([[1.0, 6.0]]))


def test_eq6_returns_logits_whose_softmax_is_p():
    g = torch.tensor([[1.0, 2.0]])
    logits = eq6_classify(g, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0.0, 0.0]))
    assert torch.equal(logits, torch.tensor([[1.0, 2.0]]))
    p = logits.softmax(-1)
    assert torch.allclose(p, torch.tensor([[1 / (1 + torch.e), torch.e / (1 + torch.e)]]))


def test_full_chain_gradients_match_finite_differences():
    torch.manual_seed(0)
    V = torch.rand(2, 5, 4, dtype=torch.float64)
    a = torch.randn(2, 3, dtype=torch.float64)
    params = [
        torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        for shape in [(6, 4), (6,), (6, 3), (6,), (2, 6), (2,)]
    ]
    W_v, b_v, W_a, b_a, W_s, b_s = params
    b_a.data += 2.0  # keep aE alive so the attention path is exercised

    def f(*p):
        vE = eq1_encode_regions(V, p[0], p[1])
        o = eq5_normalise(eq4_scores(eq2_encode_attribute(a, p[2], p[3]), vE))
        return eq6_classify(eq3_pool(o, vE), p[4], p[5])

    assert torch.autograd.gradcheck(f, tuple(params))
