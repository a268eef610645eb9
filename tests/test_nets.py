"""Players: shapes and the architecture rules they promise."""

import pytest
import torch
from torch import nn

from saddlepoint.nets import MLPCritic, MLPGenerator
from saddlepoint.nets.dcgan import DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    G = DCGANGenerator(z_dim=16, channels=channels, image_size=size, base_channels=8)
    D = DCGANDiscriminator(channels=channels, image_size=size, base_channels=8)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, channels, size, size)
    assert x.abs().max() <= 1.0  # tanh output
    assert D(x).shape == (5,)


def test_dcgan_follows_the_papers_rules():
    G = DCGANGenerator(z_dim=16, channels=3, image_size=64, base_channels=8)
    D = DCGANDiscriminator(channels=3, image_size=64, base_channels=8)
    for net in (G, D):
        assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)) for m in net.modules())
    g_layers = list(G.net)
    assert all(isinstance(m, nn.ConvTranspose2d) for m in g_layers if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)  # no BN at G's output
    assert all(isinstance(m, nn.ReLU) for m in g_layers if isinstance(m, (nn.ReLU, nn.LeakyReLU)))
    d_layers = list(D.net)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)  # no BN at D's input
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, nn.LeakyReLU))
    assert all(m.stride == (2, 2) for m in d_layers[:-1] if isinstance(m, nn.Conv2d))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3


def test_dcgan_rejects_sizes_it_cannot_build():
    with pytest.raises(ValueError, match="image_size=30"):
        DCGANGenerator(image_size=30)


def test_mlp_players():
    G, D = MLPGenerator(3, 2, 16, 2, batch_norm=True), MLPCritic(2, 16, 2, maxout=3, pack=2)
    x = G(torch.randn(8, 3))
    assert x.shape == (8, 2) and D(x).shape == (4,)
    assert any(isinstance(m, nn.BatchNorm1d) for m in G.modules())


@pytest.mark.parametrize("size", [28, 32])
def test_resnet_players_shapes_and_gradients(size):
    from saddlepoint.nets import with_spectral_norm
    from saddlepoint.nets.resnet import ResNetCritic, ResNetGenerator

    G = ResNetGenerator(z_dim=8, channels=3, image_size=size, width=16)
    D = with_spectral_norm(ResNetCritic(channels=3, width=16))
    x = G(torch.randn(4, 8))
    assert x.shape == (4, 3, size, size) and x.abs().max() <= 1
    s = D(x)
    assert s.shape == (4,)
    s.sum().backward()
    assert all(p.grad is not None for p in G.parameters())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())  # any penalty works with this critic


@pytest.mark.parametrize("make", [
    lambda pack: DCGANDiscriminator(channels=3, image_size=28, base_channels=4, pack=pack),
    lambda pack: __import__("saddlepoint.nets", fromlist=["x"]).ResNetCritic(channels=3, width=8, pack=pack),
    lambda pack: __import__("saddlepoint.nets", fromlist=["x"]).SmallCritic(channels=3, width=2, pack=pack),
], ids=["dcgan", "resnet", "small"])
def test_packed_critics_score_each_pack_of_consecutive_images(make):
    torch.manual_seed(0)
    D = make(2).eval()  # eval: batch norm must not mix packs for this check
    x = torch.randn(6, 3, 28, 28)
    s = D(x)
    assert s.shape == (3,)
    # Score k depends on images 2k and 2k+1 only, and on their order (they are stacked along channels).
    y = x.clone()
    y[4:] = torch.randn(2, 3, 28, 28)
    assert torch.allclose(D(y)[:2], s[:2]) and not torch.allclose(D(y)[2], s[2])
    assert not torch.allclose(D(x[[1, 0, 2, 3, 4, 5]])[0], s[0])
    with pytest.raises(ValueError, match="divisible by pack=2"):
        D(x[:5])
    assert make(1)(x).shape == (6,)


def test_small_players_have_the_papers_widths():
    from saddlepoint.nets import SmallCritic, SmallGenerator

    G, D = SmallGenerator(z_dim=256, channels=3), SmallCritic(channels=3, width=2)
    x = G(torch.randn(5, 256))
    assert x.shape == (5, 3, 28, 28) and x.abs().max() <= 1 and D(x).shape == (5,)
    convs = [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [2, 4, 8]  # D = ¼ G
    assert [m.out_channels for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))] == [32, 16, 8, 3]
    assert all(m.negative_slope == 0.3 for m in D.modules() if isinstance(m, nn.LeakyReLU))


def test_infogan_players_follow_the_papers_table():
    from saddlepoint.nets import AuxiliaryCritic, InfoGANDiscriminator, InfoGANGenerator

    G, D = InfoGANGenerator(74, 1, 28), InfoGANDiscriminator(1, 28)  # the paper: 62 noise + 12 code dimensions
    x = G(torch.randn(5, 74))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1 and D(x).shape == (5,)
    assert [m.out_features for m in G.modules() if isinstance(m, nn.Linear)] == [1024, 128 * 7 * 7]
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [64, 1]
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)] == [64, 128]
    assert D.features(x).shape == (5, 1024) and torch.allclose(D.score(D.features(x)), D(x))
    assert not isinstance(D.body[1], nn.BatchNorm2d)  # none at D's input
    Q = AuxiliaryCritic(D, 12, hidden=128)  # Q: FC 128, batch norm, LeakyReLU, FC to the code's parameters
    score, q = Q(x)
    assert score.shape == (5,) and q.shape == (5, 12) and isinstance(Q.head[1], nn.BatchNorm1d)
    assert InfoGANGenerator(8, 3, 32, base_channels=4)(torch.randn(2, 8)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="multiple of 4"):
        InfoGANDiscriminator(1, 30)
    from saddlepoint import resolve_config
    from saddlepoint.config import ConfigError

    with pytest.raises(ConfigError, match="model=infogan upsamples twice by 2"):
        resolve_config("mnist-infogan", ["image_size=14"])
    with pytest.raises(ConfigError, match="batch_size must be at least 2 with batch norm"):
        resolve_config("mnist-infogan", ["batch_size=1"])  # batch norm over one feature vector is undefined


@pytest.mark.parametrize("kind", ["conv", "transpose", "transpose-odd", "projection"])
def test_gemm_convolutions_match_the_library_forward_and_backward(kind):
    from torch.nn import functional as F

    from saddlepoint.nets.gemm import conv2d_gemm, conv_transpose2d_gemm

    torch.manual_seed(0)
    x = torch.randn(3, 6, 7, 7, dtype=torch.float64, requires_grad=True)
    if kind == "conv":
        w, args = torch.randn(5, 6, 4, 4, dtype=torch.float64, requires_grad=True), (2, 1)
        ours, ref = conv2d_gemm(x, w, None, *args), F.conv2d(x, w, None, *args)
    elif kind == "projection":
        x = torch.randn(3, 6, 1, 1, dtype=torch.float64, requires_grad=True)
        w, args = torch.randn(6, 5, 4, 4, dtype=torch.float64, requires_grad=True), (1, 0)
        ours, ref = conv_transpose2d_gemm(x, w, None, *args), F.conv_transpose2d(x, w, None, *args)
    else:
        k, op = (4, 0) if kind == "transpose" else (3, 1)
        w = torch.randn(6, 5, k, k, dtype=torch.float64, requires_grad=True)
        ours = conv_transpose2d_gemm(x, w, None, 2, 1, op)
        ref = F.conv_transpose2d(x, w, None, 2, 1, op)
    assert ours.shape == ref.shape and torch.allclose(ours, ref)
    g = torch.randn_like(ref)
    assert all(torch.allclose(a, b) for a, b in zip(torch.autograd.grad(ours, (x, w), g),
                                                    torch.autograd.grad(ref, (x, w), g)))


def test_players_switched_to_gemm_keep_their_weights_and_outputs():
    from saddlepoint.nets import with_spectral_norm
    from saddlepoint.nets.gemm import use_gemm_convolutions

    torch.manual_seed(0)
    G = DCGANGenerator(z_dim=16, channels=3, image_size=64, base_channels=8).eval()
    D = with_spectral_norm(DCGANDiscriminator(channels=3, image_size=64, base_channels=8, pack=2)).eval()
    z = torch.randn(4, 16)
    x = G(z)
    s = D(x)
    keys = set(G.state_dict()) | set(D.state_dict())
    assert use_gemm_convolutions(G, 64) == ["net.0", "net.3", "net.6"]  # the 1→4, 4→8 and 8→16 maps
    assert use_gemm_convolutions(D, 64, input_size=64) == ["net.5", "net.8", "net.11"]
    assert keys == set(G.state_dict()) | set(D.state_dict())
    assert torch.allclose(G(z), x, atol=1e-5) and torch.allclose(D(x), s, atol=1e-5)
    assert use_gemm_convolutions(DCGANGenerator(z_dim=16, image_size=28, base_channels=8), 0) == []


@pytest.mark.parametrize("recipe", ["mnist-dcgan", "stacked-mnist-weak-d", "mnist-infogan", "srgan-photos",
                                    "pix2pix-edges2mnist"])
def test_critic_batch_norm_false_builds_a_critic_that_scores_each_sample_alone(recipe):
    from saddlepoint import resolve_config
    from saddlepoint.train import _build_players, _make_condition

    torch.manual_seed(0)
    _, cfg = resolve_config(recipe, ["critic_batch_norm=false"])
    channels = 3 if recipe.startswith(("stacked", "srgan")) else 1
    # pix2pix's critic reads (edges, digit) pairs: its players are built for a one-channel source.
    source, cond = (1, _make_condition(cfg, 0)) if recipe.startswith("pix2pix") else (0, None)
    _, with_bn = _build_players(resolve_config(recipe, ["critic_batch_norm=true"])[1], channels, cond, source)
    _, D = _build_players(cfg, channels, cond, source)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d)
    critic, before = getattr(D, "base", D), getattr(with_bn, "base", with_bn)  # InfoGAN's Q head keeps its own
    removed = sum(isinstance(m, norms) for m in before.modules())
    assert removed > 0 and not any(isinstance(m, norms) for m in critic.modules())
    layers = [m for m in critic.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert all(m.bias is not None for m in layers[1:-1])  # hidden layers without batch norm have biases
    # No batch statistics: in training mode a sample's scores (one, or one per patch) do not depend on the rest
    # of its batch.
    x = torch.randn(6, channels + source, cfg.image_size, cfg.image_size)
    s = critic(x).view(6, -1)
    assert torch.allclose(critic(x[:2]).view(2, -1), s[:2], atol=1e-6)


def test_critic_batch_norm_refused_where_there_is_none():
    from saddlepoint import resolve_config
    from saddlepoint.config import ConfigError

    with pytest.raises(ConfigError, match="applies to model=dcgan, infogan, small, srresnet, unet; the critic of model=resnet has no batch"):
        resolve_config("mnist-wgan-gp", ["critic_batch_norm=false"])


def test_every_model_choice_is_a_registered_player_family():
    import typing

    from saddlepoint.config import TrainConfig
    from saddlepoint.nets import PLAYERS, PlayerSpec, build_players, register_players

    assert set(typing.get_args(typing.get_type_hints(TrainConfig)["model"])) == set(PLAYERS)
    with pytest.raises(ValueError, match="registered twice"):
        register_players("dcgan")(lambda cfg, spec: None)

    class Unknown:
        model = "vit"

    with pytest.raises(ValueError, match="model='vit' is not a registered player family"):
        build_players(Unknown(), PlayerSpec(1, 8, 1))


def test_penalties_on_a_batch_normed_critic_warn_and_name_the_fix():
    import warnings

    from saddlepoint import resolve_config

    def warns(recipe, overrides):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            resolve_config(recipe, overrides)[1].warn_if_doubtful()  # as train() does when the run starts
        return [str(w.message) for w in seen]

    said = warns("mnist-dcgan", ["game=wasserstein", "gradient_penalty=10"])
    assert len(said) == 1 and said[0].startswith("gradient_penalty on the batch-normed dcgan critic")
    assert said[0].endswith("add critic_batch_norm=false")
    assert warns("stacked-mnist-weak-d", ["critic_batch_norm=true", "r1=1"])[0].startswith("r1 on the batch-normed small")
    assert warns("pix2pix-edges2mnist", ["r1=1"])[0].startswith("r1 on the batch-normed unet")
    # No batch norm in the critic, or no penalty: nothing to say; and loading a config never warns.
    assert warns("mnist-dcgan", ["game=wasserstein", "gradient_penalty=10", "critic_batch_norm=false"]) == []
    assert warns("mnist-wgan-gp", []) == [] and warns("mnist-dcgan", []) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_config("mnist-dcgan", ["game=wasserstein", "gradient_penalty=10"])


def test_penalty_every_without_a_penalty_warns_that_it_does_nothing():
    import warnings

    from saddlepoint import resolve_config

    def warns(recipe, overrides):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            resolve_config(recipe, overrides)[1].warn_if_doubtful()
        return [str(w.message) for w in seen]

    said = warns("grid25", ["r1=0"])  # the recipe spaces out its R1; the user turned R1 off
    assert len(said) == 1 and said[0].startswith("penalty_every=4 spaces out the critic's penalties")
    assert said[0].endswith("remove it or turn a penalty on")
    assert warns("grid25", []) == []  # R1 on: penalty_every does its work
    assert warns("mnist-infogan", ["penalty_every=2"]) == []  # the IIC term is a critic penalty too
    assert warns("mnist-dcgan", ["penalty_every=1"]) == []
