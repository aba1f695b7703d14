"""Optical flow (Farneback), two-stream late fusion, and the skeleton-sequence classifier."""

import numpy as np
import pytest
import torch

from harlearn.video.flow import clip_flow, farneback_flow, flow_image, flow_input, raft_flow
from harlearn.video.skeleton import SkeletonGCN, normalize_skeleton, normalized_adjacency
from harlearn.video.two_stream import FrameAverage, TwoStream, fuse, stack_flow


def _moving_square(dx: int, dy: int, size: int = 48, frames: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)  # textured, so the flow is well defined
    video = np.full((frames, size, size, 3), 128, np.uint8)
    for t in range(frames):
        y, x = 16 + dy * t, 14 + dx * t
        video[t, y: y + 12, x: x + 12] = texture
    return video


def test_farneback_flow_measures_a_known_motion():
    video = _moving_square(2, 1)
    flow = farneback_flow(video[0], video[1])
    assert flow.shape == (2, 48, 48) and flow.dtype == np.float32
    inside = flow[:, 19:25, 17:23].reshape(2, -1).mean(1)  # the square's centre
    np.testing.assert_allclose(inside, [2.0, 1.0], atol=0.5)
    assert np.abs(flow[:, :6, :6]).max() < 0.1  # the still background does not move
    f = clip_flow(torch.from_numpy(video).permute(3, 0, 1, 2).float() / 255)  # a [3, T, H, W] clip
    assert f.shape == (2, 2, 48, 48)
    torch.testing.assert_close(f[0], torch.from_numpy(flow), atol=0.05, rtol=0)  # float input: same flow


def test_flow_image_and_flow_input():
    flow = torch.zeros(2, 8, 8)
    flow[0, :, 4:] = 3.0  # right half moves right
    img = flow_image(flow)
    assert img.shape == (3, 8, 8) and img.dtype == torch.uint8
    assert (img[:, 0, 0] == 255).all() and not (img[:, 0, 7] == 255).all()  # still = white, moving = coloured
    half = flow_image(flow, max_flow=6.0)  # a common scale: 3 px of 6 is paler than 3 px of 3
    assert half.shape == (3, 8, 8) and half[:, 0, 7].float().mean() > img[:, 0, 7].float().mean()
    x = flow_input(torch.tensor([[-10.0, 2.0, 10.0]]), max_flow=4.0)
    torch.testing.assert_close(x, torch.tensor([[-1.0, 0.5, 1.0]]))


def test_raft_flow_runs_with_offline_weights():
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    flow = raft_flow(torch.rand(3, 2, 128, 128), raft_small(weights=None), num_flow_updates=1)
    assert flow.shape == (1, 2, 128, 128)


class _Linear(torch.nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.fc = torch.nn.Linear(c, k)

    def forward(self, x):
        return self.fc(x.mean(dim=(-2, -1)))


def test_frame_average_cannot_tell_a_clip_from_its_reversal():
    torch.manual_seed(0)
    model = FrameAverage(_Linear(3, 4))
    clip = torch.randn(2, 3, 5, 8, 8)
    logits = model(clip)
    torch.testing.assert_close(logits, torch.stack([model.model(clip[:, :, t]) for t in range(5)]).mean(0))
    torch.testing.assert_close(model(clip.flip(2)), logits)  # played backwards: the same scores


def test_late_fusion_averages_probabilities():
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    torch.testing.assert_close(fuse(a, b).exp(), (a.softmax(-1) + b.softmax(-1)) / 2)
    torch.testing.assert_close(fuse(a, b, weights=[3, 1]).exp(), 0.75 * a.softmax(-1) + 0.25 * b.softmax(-1))
    flow = torch.randn(2, 4, 2, 8, 8)
    assert stack_flow(flow).shape == (2, 8, 8, 8) and torch.equal(stack_flow(flow)[:, 2:4], flow[:, 1])
    model = TwoStream(FrameAverage(_Linear(3, 5)), _Linear(8, 5))
    out = model(torch.randn(2, 3, 5, 8, 8), flow)
    assert out.shape == (2, 5) and torch.allclose(out.exp().sum(-1), torch.ones(2))
    torch.nn.functional.nll_loss(out, torch.tensor([0, 1])).backward()
    assert model.flow.fc.weight.grad is not None and model.rgb.model.fc.weight.grad is not None
    with pytest.raises(ValueError):
        TwoStream(model.rgb, model.flow, rgb_weight=1.0)


def test_skeleton_graph_and_normalisation():
    A = normalized_adjacency()
    assert A.shape == (17, 17) and torch.allclose(A, A.T) and (A.diagonal() > 0).all()
    assert A[15, 13] > 0 and A[15, 16] == 0  # ankle-knee is a bone, ankle-ankle is not
    kp = torch.rand(2, 6, 17, 3) * 50
    kp[..., 2] = 2
    moved = kp.clone()
    moved[..., :2] = kp[..., :2] * 3 + 20  # the same clip, elsewhere in the frame and three times larger
    torch.testing.assert_close(normalize_skeleton(kp), normalize_skeleton(moved), rtol=1e-4, atol=1e-4)


def test_skeleton_gcn_classifies_and_learns_the_direction_of_a_motion():
    torch.manual_seed(0)
    t = torch.linspace(0, 1, 8)
    base = torch.rand(1, 1, 17, 2) * 10
    up = base + torch.stack([torch.zeros(8), -5 * t], -1)[None, :, None]  # every joint rises ...
    seqs = torch.cat([up, up.flip(1)]).repeat(4, 1, 1, 1)  # ... or falls (the same frames reversed)
    seqs = torch.cat([seqs + 0.3 * torch.randn_like(seqs), torch.full((8, 8, 17, 1), 2.0)], -1)  # [8, T, V, 3]
    labels = torch.tensor([0, 1] * 4)
    model = SkeletonGCN(2, widths=(16, 16))
    assert model(seqs).shape == (8, 2)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(seqs), labels)
        loss.backward()
        opt.step()
    model.eval()
    assert (model(seqs).argmax(1) == labels).all()


def test_raft_and_keypoint_rcnn_load_their_weights_through_the_stand_ins_in_smoke_mode(monkeypatch):
    import socket

    from harlearn.video import detect_keypoints, keypoint_rcnn, raft

    monkeypatch.setenv("HARLEARN_PROFILE", "full")
    monkeypatch.setenv("HARLEARN_SMOKE", "1")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(AssertionError("network")))
    flow = raft_flow(torch.rand(3, 2, 128, 128), raft(), num_flow_updates=1)  # the pretrained path, stand-in weights
    assert flow.shape == (1, 2, 128, 128) and torch.isfinite(flow).all()
    detector = keypoint_rcnn(min_size=64, max_size=64, rpn_post_nms_top_n_test=10)
    kp = detect_keypoints(detector, torch.rand(3, 2, 64, 64))
    assert kp.shape == (2, 17, 3)
    assert set(kp[..., 2].unique().tolist()) <= {0.0, 2.0}  # a frame has a person (2) or nothing (0)


def test_a_torchvision_download_that_cannot_start_says_where_to_put_the_file(monkeypatch, tmp_path):
    from torchvision.models.optical_flow import Raft_Small_Weights, raft_small

    from harlearn.models.backbones import weights as W

    monkeypatch.delenv("HARLEARN_SMOKE", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(W, "unreachable", lambda url: OSError("no route to host"))
    with pytest.raises(RuntimeError, match=r"RAFT's weights could not be downloaded .* place the file at .*raft_small"):
        W.load_torchvision_model(raft_small, Raft_Small_Weights.DEFAULT, "RAFT's weights")


def test_raft_flow_builds_no_autograd_graph():
    from harlearn.video import raft

    flow = raft_flow(torch.rand(3, 2, 128, 128), raft(pretrained=False), num_flow_updates=1)
    assert not flow.requires_grad
