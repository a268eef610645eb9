"""Players: plain ``nn.Module``s.  Generators map noise to samples; critics return one raw score per
sample (no sigmoid: higher = more real), so any game can use any critic."""

from .common import with_spectral_norm
from .conditional import AuxiliaryCritic, ConditionalGenerator, LabelCritic
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .infogan import InfoGANDiscriminator, InfoGANGenerator
from .mlp import MLPCritic, MLPGenerator
from .resnet import ResNetCritic, ResNetGenerator
from .biggan import BigGANGenerator
from .progan import ProCritic, ProGenerator
from .small import SmallCritic, SmallGenerator
from .cyclegan import CyclePair, ResNetTranslator, TwinCritic
from .srresnet import SRCritic, SRResNet
from .unet import PatchCritic, UNetGenerator
from .registry import PLAYERS, PlayerSpec, build_players, register_players  # every family above has registered

__all__ = ["MLPGenerator", "MLPCritic", "DCGANGenerator", "DCGANDiscriminator", "ResNetGenerator", "ResNetCritic", "BigGANGenerator", "ProGenerator", "ProCritic",
           "SmallGenerator", "SmallCritic", "InfoGANGenerator", "InfoGANDiscriminator", "ConditionalGenerator", "LabelCritic", "AuxiliaryCritic",
           "CyclePair", "ResNetTranslator", "TwinCritic", "SRResNet", "SRCritic", "UNetGenerator", "PatchCritic",
           "with_spectral_norm", "PLAYERS", "PlayerSpec", "build_players", "register_players"]
