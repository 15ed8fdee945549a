"""The post-hoc (MetaDetect-style) quality estimate: its target is the field's, and its val
scores are out-of-fold by image, so what it learned about an image never scores that image."""
import numpy as np
import pytest

from benchmarks.studies import meta_quality as mq


def test_field_target_counts_duplicates_wrong_class_and_background_as_zero():
    gt = {0: (np.array([[0., 0., 10., 10.]]), np.array([0])), 1: (np.zeros((0, 4)), np.zeros(0, int))}
    dets = dict(img_id=np.array([0, 0, 0, 1]), label=np.array([0, 0, 1, 0]),
                bbox=np.array([[0., 0., 10., 8.],    # IoU .8, the higher score: matched
                               [0., 0., 10., 10.],   # IoU 1 but lower score: a duplicate
                               [0., 0., 10., 10.],   # the other class
                               [0., 0., 5., 5.]]),   # an image without objects
                fused_score=np.array([0.9, 0.5, 0.8, 0.7]))
    np.testing.assert_allclose(mq.field_target(dets, gt, 2), [0.8, 0, 0, 0])


def test_out_of_fold_scores_never_use_their_own_image():
    rng = np.random.default_rng(0)
    images = np.repeat(np.arange(40), 30)
    per_image = rng.uniform(size=40)
    # feature 0 names the image; the target is that image's value: learnable only in-sample
    x = np.stack([images.astype(float), rng.normal(size=len(images))], 1)
    y = per_image[images]
    oof, in_sample = mq.fit_predict(x, y, images, x)
    assert np.mean((in_sample - y) ** 2) < 0.02         # a model that saw the image knows it
    assert np.mean((oof - y) ** 2) > 0.05               # held-out: chance is 1/12 = 0.083
    assert np.mean((oof - y) ** 2) > 5 * np.mean((in_sample - y) ** 2)


def test_a_learnable_target_is_learned_and_predictions_stay_in_the_unit_interval():
    rng = np.random.default_rng(1)
    images = np.repeat(np.arange(30), 50)
    x = rng.uniform(-0.2, 1.2, size=(len(images), 3))
    y = np.clip(x[:, 0], 0, 1)
    oof, test = mq.fit_predict(x, y, images, x[:200])
    assert np.mean((oof - y) ** 2) < 0.002
    assert oof.min() >= 0 and oof.max() <= 1 and test.min() >= 0 and test.max() <= 1


def test_bad_inputs_are_named():
    dets = dict(label=np.array([0, 1]))
    with pytest.raises(ValueError, match='evidence'):
        mq.features(dets, np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match='groups'):
        mq.fit_predict(np.zeros((8, 2)), np.zeros(8), np.array([0, 0, 1, 1, 2, 2, 3, 3]),
                       np.zeros((1, 2)))
