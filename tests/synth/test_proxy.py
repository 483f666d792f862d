import numpy as np
import pytest
import torch

from lasor.synth.proxy import (
    CropBox,
    crop_mask,
    crop_observation,
    decode_heatmaps,
    encode_proxy,
    person_box,
)


def test_encode_shapes_and_channels():
    sil = torch.zeros(2, 64, 64)
    sil[:, 10:50, 20:40] = 1
    j = torch.rand(2, 17, 2) * 60 + 2
    c = torch.ones(2, 17)
    p = encode_proxy(sil, j, c)
    assert p.shape == (2, 18, 64, 64) and p.dtype == torch.float32
    assert torch.equal(p[:, 0], sil)
    assert torch.allclose(p[:, 1:].amax(dim=(2, 3)), torch.ones(2, 17), atol=0.25)


def test_round_trip_heatmap_argmax_returns_joints():
    rng = np.random.default_rng(0)
    j = (rng.integers(2, 62, (3, 17, 2)) + 0.5).astype(np.float32)  # pixel centres
    c = np.ones((3, 17), np.float32)
    p = encode_proxy(np.zeros((3, 64, 64), np.float32), j, c)
    jj, peak = decode_heatmaps(p)
    assert np.allclose(jj.numpy(), j)
    assert torch.allclose(peak, torch.ones(3, 17))


def test_absent_joints_have_empty_heatmaps():
    j = torch.full((1, 17, 2), 32.0)
    c = torch.ones(1, 17)
    c[0, 5] = 0
    p = encode_proxy(torch.zeros(1, 64, 64), j, c)
    assert p[0, 1 + 5].abs().max() == 0
    assert p[0, 1 + 4].max() > 0.5


def test_confidence_scales_peak_and_single_sample():
    p = encode_proxy(np.zeros((64, 64)), np.full((17, 2), 32.5), np.full(17, 0.4))
    assert p.shape == (18, 64, 64)
    assert p[1:].amax() == pytest.approx(0.4)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="joints"):
        encode_proxy(torch.zeros(1, 64, 64), torch.zeros(1, 16, 2), torch.zeros(1, 16))


def test_person_box_and_crop_mapping():
    mask = np.zeros((200, 100), bool)
    mask[50:150, 30:70] = True
    box = person_box(mask)
    assert box.cx == pytest.approx(50) and box.cy == pytest.approx(100)
    assert box.size == pytest.approx(120)
    pts = np.array([[30.0, 50.0], [70.0, 150.0]])
    back = box.from_crop(box.to_crop(pts, 64), 64)
    assert np.allclose(back, pts)
    # the crop of the mask keeps its proportions: 40x100 of a 120 box -> ~21x53 of 64
    cm = crop_mask(mask, box, 64)
    assert abs(cm.sum() - 40 * 100 * (64 / 120) ** 2) < 120


def test_person_box_uses_confident_keypoints_only():
    kp = np.array([[10.0, 10.0]] * 17)
    kp[0] = [500, 500]
    conf = np.ones(17)
    conf[0] = 0.1
    box = person_box(None, kp, conf)
    assert box.cx == pytest.approx(10)
    with pytest.raises(ValueError):
        person_box(np.zeros((5, 5), bool), kp, np.zeros(17))


def test_crop_outside_image_is_empty():
    mask = np.ones((10, 10), bool)
    box = CropBox(cx=0.0, cy=0.0, size=20.0)  # only the bottom-right quarter overlaps
    sil, j, c = crop_observation(mask, np.zeros((17, 2)), np.ones(17), box, 8)
    assert sil[:4, :4].sum() == 0 and sil[4:, 4:].all()
    assert np.allclose(j, 4.0)
