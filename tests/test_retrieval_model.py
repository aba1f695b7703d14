"""Region-aware action retrieval (arXiv:2407.09924) and its baselines: by hand, tiny and on CPU."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from harlearn.data import collate
from harlearn.models.retrieval import (
    TOKEN_CONTEXT,
    TOKEN_GLOBAL,
    TOKEN_PERSON,
    FusionTransformer,
    RegionAwareActionNet,
    anchor_boxes_from_batch,
    batch_embedding,
    batch_forward,
    build_backbone,
    context_boxes_from_batch,
    masked_block_forward,
    rank_context_proposals,
    retrieval_loss_fn,
)
from harlearn.models.retrieval_baselines import (
    BNNeckNet,
    GeM,
    GlobalPoolRetrieval,
    batch_hard_triplet_loss,
    reid_loss_fn,
)
from harlearn.train import TrainConfig, fit, predict
from harlearn.transformers.vit import TransformerBlock

K = 3  # context regions in the tiny models
SIZE = 64  # image side


@pytest.fixture(scope="module")
def backbone():
    """A narrow ResNet-50 (base_width 8: D = 256), shared by the tiny models of this module."""
    torch.manual_seed(0)
    return build_backbone("resnet50", base_width=8)


def tiny_model(backbone, num_classes: int = 3, **kwargs) -> RegionAwareActionNet:
    torch.manual_seed(0)
    return RegionAwareActionNet(num_classes, backbone, k=K, **kwargs)


# --------------------------------------------------------------------------------------------
# Context regions
# --------------------------------------------------------------------------------------------


def test_rank_context_proposals_by_hand():
    anchor = torch.tensor([0.0, 0.0, 10.0, 10.0])
    proposals = torch.tensor([
        [0.0, 0.0, 10.0, 10.0],  # 0: IoU 1
        [0.0, 0.0, 10.0, 5.0],  # 1: IoU 50/100 = 0.5
        [0.0, 0.0, 5.0, 10.0],  # 2: IoU 0.5 as well, higher score than 1 -> before 1
        [0.0, 0.0, 10.0, 10.0],  # 3: IoU 1 but below the threshold -> dropped
        [20.0, 20.0, 30.0, 30.0],  # 4: IoU 0, most confident -> last
        [5.0, 0.0, 10.0, 10.0],  # 5: score exactly at the threshold -> dropped ("above")
    ])
    scores = torch.tensor([0.9, 0.8, 0.95, 0.4, 0.99, 0.5])
    boxes, idx = rank_context_proposals(proposals, scores, anchor, k=10, return_indices=True)
    assert idx.tolist() == [0, 2, 1, 4]
    torch.testing.assert_close(boxes, proposals[[0, 2, 1, 4]])
    assert rank_context_proposals(proposals, scores, anchor, k=2).tolist() == proposals[[0, 2]].tolist()
    # a lower threshold lets proposal 3 in: it ties with 0 on IoU and loses on score
    _, idx = rank_context_proposals(proposals, scores, anchor, k=3, score_threshold=0.3, return_indices=True)
    assert idx.tolist() == [0, 3, 2]
    assert rank_context_proposals(proposals, scores, anchor, score_threshold=0.999).shape == (0, 4)
    assert rank_context_proposals(torch.zeros(0, 4), torch.zeros(0), anchor).shape == (0, 4)


# --------------------------------------------------------------------------------------------
# Fusion transformer and masking
# --------------------------------------------------------------------------------------------


def test_masked_block_matches_the_block_and_the_fused_path_matches_the_reference():
    torch.manual_seed(0)
    block = TransformerBlock(16, num_heads=4).eval()
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(masked_block_forward(block, x), block(x))
    mask = torch.tensor([[False, False, False, True, True], [False] * 5])
    fused = masked_block_forward(block, x, mask)
    reference, attn = masked_block_forward(block, x, mask, return_attention=True)
    torch.testing.assert_close(fused, reference)
    assert attn.shape == (2, 4, 5, 5) and attn[0, :, :, 3:].abs().max() == 0  # nobody attends to padding
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 4, 5))


def test_fusion_transformer_shape_and_padding_changes_nothing():
    torch.manual_seed(0)
    fusion = FusionTransformer(16, depth=2, num_heads=4, max_tokens=8).eval()
    tokens = torch.randn(2, 4, 16)
    types = torch.tensor([TOKEN_PERSON, TOKEN_GLOBAL, TOKEN_CONTEXT, TOKEN_CONTEXT])
    f_t = fusion(tokens, types)
    assert f_t.shape == (2, 16)
    # the same tokens followed by garbage padding, masked: the same F_T
    garbage = 1e3 * torch.randn(2, 3, 16)
    padded = torch.cat([tokens, garbage], dim=1)  # [B, 7, D]
    mask = torch.tensor([[False] * 4 + [True] * 3] * 2)
    types7 = torch.cat([types, torch.full((3,), TOKEN_CONTEXT)])
    torch.testing.assert_close(fusion(padded, types7, mask), f_t)
    # different numbers of valid tokens in one batch: each image as if alone
    mask = torch.tensor([[False] * 3 + [True] * 4, [False] * 4 + [True] * 3])
    batched = fusion(padded, types7, mask)
    torch.testing.assert_close(batched[0], fusion(tokens[:1, :3], types[:3])[0])
    torch.testing.assert_close(batched[1], f_t[1])
    out, attention = fusion(padded, types7, mask, return_attention=True)
    assert len(attention) == 2 and attention[0].shape == (2, 4, 7, 7)
    # the embeddings matter: without them the output changes
    plain = FusionTransformer(16, depth=2, num_heads=4, max_tokens=8,
                              use_pos_embed=False, use_type_embed=False)
    plain.load_state_dict(fusion.state_dict(), strict=False)
    assert not torch.allclose(plain.eval()(tokens, types), f_t)


def test_fusion_depth_zero_is_the_masked_average_of_the_raw_tokens():
    fusion = FusionTransformer(8, depth=0)
    tokens = torch.randn(2, 4, 8)
    mask = torch.tensor([[False, False, True, True], [False] * 4])
    out = fusion(tokens, torch.zeros(4, dtype=torch.long), mask)
    torch.testing.assert_close(out[0], tokens[0, :2].mean(0))
    torch.testing.assert_close(out[1], tokens[1].mean(0))
    assert len(list(fusion.parameters())) == 0


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def _inputs():
    torch.manual_seed(1)
    images = torch.randn(2, 3, SIZE, SIZE)
    persons = torch.tensor([[4.0, 4.0, 40.0, 60.0], [10.0, 10.0, 30.0, 50.0]])
    contexts = [torch.tensor([[0.0, 0.0, 20.0, 20.0], [30.0, 30.0, 63.0, 63.0]]), torch.zeros(0, 4)]
    return images, persons, contexts


@pytest.mark.parametrize(
    "flags, types",
    [
        ({}, [TOKEN_PERSON, TOKEN_GLOBAL] + [TOKEN_CONTEXT] * K),
        ({"use_global": False}, [TOKEN_PERSON] + [TOKEN_CONTEXT] * K),
        ({"use_person": False}, [TOKEN_GLOBAL] + [TOKEN_CONTEXT] * K),
        ({"use_context": False}, [TOKEN_PERSON, TOKEN_GLOBAL]),
        ({"use_person": False, "use_global": False}, [TOKEN_CONTEXT] * K),
    ],
)
def test_ablation_flags_remove_their_tokens(backbone, flags, types):
    model = tiny_model(backbone, **flags).eval()
    images, persons, contexts = _inputs()
    tokens, token_types, mask = model.forward_tokens(images, persons, contexts)
    assert tokens.shape == (2, len(types), backbone.num_features)
    assert token_types.tolist() == types
    contexts_mask = mask[:, [t == TOKEN_CONTEXT for t in types]]
    if TOKEN_CONTEXT in types:  # image 0 has 2 context regions, image 1 none
        assert contexts_mask.tolist() == [[False, False, True], [True, True, True]]
    assert not mask[:, [t != TOKEN_CONTEXT for t in types]].any()
    assert model(images, persons, contexts)["logits"].shape == (2, 3)


def test_context_only_model_with_no_context_gives_a_finite_output(backbone):
    model = tiny_model(backbone, use_person=False, use_global=False).eval()
    images, persons, _ = _inputs()
    out = model(images, persons, [torch.zeros(0, 4)] * 2)
    assert torch.isfinite(out["logits"]).all() and out["embedding"].abs().max() == 0


def test_tokens_are_the_pooled_regions_of_their_own_image(backbone):
    model = tiny_model(backbone).eval()
    images, persons, contexts = _inputs()
    contexts = [contexts[1], contexts[0]]  # image 1 has the regions now
    with torch.no_grad():
        tokens, _, _ = model.forward_tokens(images, persons, contexts)
        fmap = backbone.forward_features(images)  # [B, D, 2, 2]
        expected = model._pool_regions(fmap[1:], [contexts[1]], 1 / 32)  # [2, D]
        torch.testing.assert_close(tokens[1, 2:4], expected)
        torch.testing.assert_close(tokens[:, 1], fmap.amax(dim=(2, 3)))  # F_g: global max pool
        assert tokens[0, 2:].abs().max() == 0 and tokens[1, 4].abs().max() == 0  # padding


def test_forward_shapes_gradients_and_independence_from_batch_mates(backbone):
    model = tiny_model(backbone, num_classes=5)
    images, persons, contexts = _inputs()
    out = model(images, list(persons[:, None]), contexts, return_attention=True)
    assert out["logits"].shape == (2, 5)
    assert out["embedding"].shape == out["embedding_bn"].shape == (2, backbone.num_features)
    assert len(out["attention"]) == 3 and out["attention"][0].shape == (2, 8, K + 2, K + 2)
    out["logits"].square().sum().backward()
    for p in (model.fusion.blocks[0].attn.qkv.weight, model.fusion.type_embed.weight, backbone.conv1.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    backbone.zero_grad(set_to_none=True)
    # eval mode: an image's representation does not depend on its batch-mates' regions
    model.eval()
    with torch.no_grad():
        alone = model(images[:1], persons[:1], contexts[:1])["embedding"]
        three = [torch.tensor([[1.0, 1.0, 9.0, 9.0]] * 3)]
        mates = model(images, persons, contexts[:1] + three)["embedding"]
    torch.testing.assert_close(mates[:1], alone, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# Batches of item dicts
# --------------------------------------------------------------------------------------------


def _boxes(rows) -> tv_tensors.BoundingBoxes:
    return tv_tensors.BoundingBoxes(torch.tensor(rows, dtype=torch.float32).reshape(-1, 4), format="XYXY",
                                    canvas_size=(SIZE, SIZE))


def test_anchor_and_context_boxes_from_stanford40_and_voc_batches():
    image = torch.zeros(3, SIZE, SIZE)
    stanford = collate([
        {"image": image, "label": 0, "boxes": _boxes([[10, 10, 30, 50], [40, 10, 60, 50]]),
         "object_boxes": _boxes([[0, 0, 5, 5], [12, 12, 28, 30]]), "bystander_boxes": _boxes([])},
        {"image": image, "label": 1, "boxes": _boxes([])},  # no person, no sidecar
    ])
    anchors = anchor_boxes_from_batch(stanford)
    assert anchors.tolist() == [[10, 10, 30, 50], [0, 0, SIZE, SIZE]]
    contexts = context_boxes_from_batch(stanford, k=10)
    # the object inside the person first, then the other person (IoU 0) and the far object (IoU 0)
    assert contexts[0].tolist() == [[12, 12, 28, 30], [0, 0, 5, 5], [40, 10, 60, 50]]
    assert contexts[1].shape == (0, 4)
    assert context_boxes_from_batch(stanford, k=1)[0].tolist() == [[12, 12, 28, 30]]

    voc = collate([
        {"image": image, "labels": torch.zeros(10), "box": torch.tensor([40.0, 10, 60, 50]),
         "boxes": _boxes([[10, 10, 30, 50], [40, 10, 60, 50]]), "object_boxes": _boxes([[35, 20, 63, 40]])},
    ])
    assert anchor_boxes_from_batch(voc).tolist() == [[40, 10, 60, 50]]
    assert context_boxes_from_batch(voc)[0].tolist() == [[35, 20, 63, 40], [10, 10, 30, 50]]

    def detector(batch):  # a fake detector: one confident and one unsure box per image
        boxes = torch.tensor([[0.0, 0, 9, 9], [40, 10, 60, 40]])
        return [{"boxes": boxes, "scores": torch.tensor([0.9, 0.2])}]

    assert context_boxes_from_batch(voc, detector=detector)[0].tolist() == [[0, 0, 9, 9]]


class FourImages(Dataset):
    """Four 64 x 64 item dicts of two classes, with person boxes and sidecar boxes (one lacks them)."""

    classes = ["a", "b"]

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        item = {"image": torch.randn(3, SIZE, SIZE, generator=g), "label": i % 2, "image_id": f"img_{i}",
                "boxes": _boxes([[8 + i, 8, 40, 60]])}
        if i != 3:
            item["object_boxes"] = _boxes([[30, 30, 50, 50], [0, 0, 10, 10]])
            item["bystander_boxes"] = _boxes([[44, 4, 62, 60]])
        return item


def test_loss_helpers_train_one_epoch_with_fit_and_predict_embeddings(backbone):
    config = TrainConfig(epochs=1, batch_size=4, lr=1e-3, progress=False)
    data = FourImages()

    model = tiny_model(backbone, num_classes=2)
    history = fit(model, data, config=config, loss_fn=retrieval_loss_fn, device="cpu")
    assert len(history) == 1 and history.last["train_loss"] > 0
    emb = predict(model, data, device="cpu", forward=partial(batch_embedding, key="embedding_bn"))
    assert emb["logits"].shape == (4, backbone.num_features)
    assert batch_forward(model.eval(), collate([data[0], data[3]]))["logits"].shape == (2, 2)

    # the ReID loss on the region-aware model and on the BNNeck baseline
    reid = partial(reid_loss_fn, forward=batch_forward)
    assert fit(model, data, config=config, loss_fn=reid, device="cpu").last["train_loss"] > 0
    torch.manual_seed(0)
    bnneck = BNNeckNet(build_backbone("resnet50", base_width=4), num_classes=2)
    assert fit(bnneck, data, config=config, loss_fn=reid_loss_fn, device="cpu").last["train_loss"] > 0
    assert bnneck.bottleneck.bias.abs().max() == 0  # frozen at zero
    with pytest.raises(ValueError, match="one integer label"):
        reid_loss_fn(bnneck, {"image": torch.zeros(2, 3, SIZE, SIZE), "labels": torch.zeros(2, 10)})


# --------------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------------


def test_gem_interpolates_between_average_and_max_pooling():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 4, 4) * 0.9 + 0.1  # positive, in [0.1, 1]
    torch.testing.assert_close(GeM(p=1.0)(x), x.mean(dim=(2, 3)))
    peak = x.amax(dim=(2, 3))
    errors = []
    for p in (3.0, 30.0, 300.0):
        pooled = GeM(p=p, learn_p=False)(x)
        # mean(x^p) lies between max^p / (H W) and max^p: max (HW)^(-1/p) <= GeM <= max
        assert (pooled <= peak * (1 + 1e-5)).all() and (pooled >= peak * 16 ** (-1 / p) * (1 - 1e-5)).all()
        errors.append((pooled - peak).abs().max())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01
    assert list(GeM(learn_p=False).parameters()) == [] and len(list(GeM().parameters())) == 1


def test_global_pool_retrieval_outputs(backbone):
    images = torch.randn(2, 3, SIZE, SIZE)
    for pool in ("gap", "gem"):
        out = GlobalPoolRetrieval(backbone, 4, pool=pool)(images)
        assert out["logits"].shape == (2, 4) and out["embedding"].shape == (2, backbone.num_features)
    gap = GlobalPoolRetrieval(backbone, 4, pool="gap")
    torch.testing.assert_close(gap(images)["embedding"], backbone.forward_features(images).mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="pool must be"):
        GlobalPoolRetrieval(backbone, 4, pool="max")


def _brute_force_triplet(x, labels, margin):
    losses = []
    for a in range(len(x)):
        pos = [torch.dist(x[a], x[p]) for p in range(len(x)) if p != a and labels[p] == labels[a]]
        neg = [torch.dist(x[a], x[n]) for n in range(len(x)) if labels[n] != labels[a]]
        if pos and neg:
            gap = max(pos) - min(neg)
            losses.append(torch.log1p(torch.exp(gap)) if margin is None else torch.clamp(gap + margin, min=0))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("margin", [0.3, 2.0, None])
def test_batch_hard_triplet_loss_against_brute_force(margin):
    torch.manual_seed(0)
    x = torch.randn(7, 5, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 3])  # anchors 5 and 6 have no positive
    loss = batch_hard_triplet_loss(x, labels, margin)
    torch.testing.assert_close(loss, _brute_force_triplet(x.detach(), labels, margin), rtol=1e-4, atol=1e-5)
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_batch_hard_triplet_loss_without_triplets_is_zero_with_a_graph():
    x = torch.randn(3, 4, requires_grad=True)
    loss = batch_hard_triplet_loss(x, torch.tensor([0, 1, 2]))
    assert loss.item() == 0 and loss.requires_grad
