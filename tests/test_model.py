"""The public model API and the variants."""

import pytest
import torch

from visent.model import (
    QUERIES,
    VARIANTS,
    AdjectiveOnly,
    AttributeAttention,
    LinearProbe,
    build_model,
    default_variants,
    missing_inputs,
)


def test_attribute_attention_public_api_shapes():
    model = AttributeAttention(region_dim=512, word_dim=50, hidden_dim=512, num_classes=2)
    assert isinstance(model.encode_regions, torch.nn.Linear)
    assert isinstance(model.encode_attribute, torch.nn.Linear)
    assert isinstance(model.classifier, torch.nn.Linear)
    V, a = torch.rand(3, 196, 512), torch.randn(3, 50)
    assert model(V, a).shape == (3, 2)
    logits, o = model(V, a, return_attention=True)
    assert logits.shape == (3, 2) and o.shape == (3, 196)
    assert torch.allclose(o.sum(-1), torch.ones(3), atol=1e-5)
    assert (o >= 0).all()


def test_forward_accepts_fp16_regions_from_the_cache():
    model = AttributeAttention(region_dim=8, word_dim=4, hidden_dim=6)
    V = torch.rand(2, 196, 8)
    a = torch.randn(2, 4)
    assert torch.allclose(model(V.half(), a), model(V.half().float(), a))


def test_attention_depends_on_the_attribute():
    torch.manual_seed(0)
    model = AttributeAttention(region_dim=16, word_dim=4, hidden_dim=8)
    V = torch.rand(1, 196, 16)
    _, o1 = model(V, torch.randn(1, 4), return_attention=True)
    _, o2 = model(V, torch.randn(1, 4), return_attention=True)
    assert not torch.allclose(o1, o2)


def test_gap_variant_attends_uniformly_and_ignores_the_attribute():
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=8)
    V = torch.rand(2, 196, 16)
    logits, o = model(V, None, return_attention=True)
    assert torch.allclose(o, torch.full((2, 196), 1 / 196))
    vE = torch.relu(model.encode_regions(V))
    assert torch.allclose(logits, model.classifier(vE.mean(1)), atol=1e-6)


def test_learned_variant_needs_no_attribute_and_learns_its_query():
    model = build_model("attention-learned", region_dim=16, word_dim=4, hidden_dim=8)
    logits = model(torch.rand(2, 196, 16))
    logits.sum().backward()
    assert model.learned_a.grad is not None and model.learned_a.grad.abs().sum() > 0


def test_attribute_variant_without_attribute_is_a_clear_error():
    with pytest.raises(ValueError, match="needs the attribute vectors"):
        AttributeAttention(region_dim=16, word_dim=4, hidden_dim=8)(torch.rand(1, 196, 16))


def test_adjective_only_is_logistic_regression_on_the_word_vector():
    model = build_model("adjective-only", region_dim=16, word_dim=4, hidden_dim=8)
    assert isinstance(model, AdjectiveOnly)
    a = torch.randn(3, 4)
    logits, o = model(None, a, return_attention=True)
    assert o is None
    assert torch.allclose(logits, a @ model.classifier.weight.T + model.classifier.bias)


def test_every_variant_is_described_and_unknown_names_list_the_choices():
    assert list(VARIANTS) == [
        "gap",
        "attention-truth",
        "attention-shuffled",
        "attention-predicted",
        "attention-learned",
        "attention-multi-query",
        "adjective-only",
        "linear-probe",
        "attention-text",
        "attention-text-shuffled",
        "attention-vso-adjective",
        "text-only",
        "vso-adjective-only",
    ]
    assert all(v.purpose and v.attends for v in VARIANTS.values())
    with pytest.raises(ValueError, match="choose one of"):
        build_model("attention-magic", region_dim=16, hidden_dim=8)


def test_the_words_alone_variants_read_the_query_and_never_the_image():
    model = build_model("text-only", region_dim=16, word_dim=4, hidden_dim=8)
    assert isinstance(model, LinearProbe) and model.reads == "query"
    a = torch.randn(3, 4)
    assert torch.equal(model(None, a), model(torch.rand(3, 196, 16), a))


def test_default_variants_are_those_whose_inputs_the_dataset_has():
    assert default_variants({"attribute"}) == [
        "gap",
        "attention-truth",
        "attention-shuffled",
        "attention-predicted",
        "attention-learned",
        "adjective-only",
    ]
    assert default_variants({"text"}, ["ontology"]) == [
        "gap",
        "attention-predicted",
        "attention-learned",
        "attention-text",
        "attention-text-shuffled",
        "attention-vso-adjective",
        "text-only",
        "vso-adjective-only",
    ]
    assert missing_inputs("attention-vso-adjective", {"text"}, []) == ["ontology"]
    assert missing_inputs("attention-text", {"attribute"}, ["ontology"]) == ["text"]


@pytest.mark.parametrize("query", QUERIES)
def test_region_evidence_sums_to_the_logit_margin(query):
    torch.manual_seed(0)
    model = AttributeAttention(region_dim=16, word_dim=4, hidden_dim=8, query=query)
    V, a = torch.rand(3, 196, 16), torch.randn(3, 4)
    logits = model(V, a)
    evidence = model.region_evidence(V, a)  # (3, 196)
    assert evidence.shape == (3, 196)
    assert torch.allclose(evidence.sum(1), logits[:, 1] - logits[:, 0], atol=1e-5)


def test_image_only_attention_decides_by_a_sum_of_terms_that_each_see_one_region():
    torch.manual_seed(1)
    model = AttributeAttention(region_dim=16, word_dim=4, hidden_dim=8, query="learned")
    u = model.classifier.weight[1] - model.classifier.weight[0]  # (8,)
    c = model.classifier.bias[1] - model.classifier.bias[0]
    aE = torch.relu(model.encode_attribute(model.learned_a))  # (8,)

    def terms(V):  # ReLU(s_i) (u . vE_i + c), (1, 196)
        vE = torch.relu(model.encode_regions(V))  # (1, 196, 8)
        return torch.relu(vE @ aE) * (vE @ u + c)

    V = torch.rand(1, 196, 16)
    W = V.clone()
    W[0, 7] = torch.rand(16) * 4
    others = torch.arange(196) != 7
    assert torch.equal(terms(V)[0, others], terms(W)[0, others])
    for X in (V, W):
        vE = torch.relu(model.encode_regions(X))
        normaliser = torch.relu(vE @ aE).sum(1)  # (1,), > 0 here
        margin = model.region_evidence(X).sum(1)
        assert normaliser.item() > 0
        assert torch.allclose(margin * normaliser, terms(X).sum(1), rtol=1e-4, atol=1e-5)


def test_region_evidence_refuses_more_than_two_classes():
    model = AttributeAttention(region_dim=16, word_dim=4, hidden_dim=8, num_classes=3)
    with pytest.raises(ValueError, match="binary classifier, this one has 3 classes"):
        model.region_evidence(torch.rand(1, 196, 16), torch.randn(1, 4))


def test_multi_query_attention_with_one_query_is_attention_learned():
    """The architecture chapter's example variant: for k = 1 it is eqs. (1)-(6) with one learned query."""
    from visent.model.variants.attention_multi_query import MultiQueryAttention

    torch.manual_seed(0)
    multi = MultiQueryAttention(region_dim=16, hidden_dim=8, k=1)
    single = AttributeAttention(region_dim=16, word_dim=50, hidden_dim=8, query="learned")
    state = {k: v for k, v in multi.state_dict().items() if k != "queries"}
    single.load_state_dict(state | {"learned_a": multi.queries[0].detach()})
    V = torch.rand(3, 196, 16)
    (logits, o), (logits_1, o_1) = multi(V, return_attention=True), single(V, return_attention=True)
    assert torch.allclose(logits, logits_1, atol=1e-6) and torch.allclose(o, o_1, atol=1e-7)


def test_multi_query_attention_averages_distributions_over_the_regions():
    model = build_model("attention-multi-query", region_dim=16, hidden_dim=8)
    logits, o = model(torch.rand(5, 49, 16), return_attention=True)
    assert logits.shape == (5, 2) and o.shape == (5, 49)
    assert torch.allclose(o.sum(1), torch.ones(5)) and (o >= 0).all()
