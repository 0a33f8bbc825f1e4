"""The released model configurations in one table, so a plan needs no file on disk.

Sizes come from the reference configs (``reference/varedit.md`` §1, §3; ``var.md``; the VARSR
config defaults); the registry names a shape per model id (``ModelSpec.shape``).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.models.infinity.bsq_vae import VaeConfig
from engine.models.infinity.config import InfinityConfig
from engine.models.var.schedules import PATCH_NUMS_256, PATCH_NUMS_512
from engine.models.var.transformer import VARConfig
from engine.models.var.vqvae import VQVAEConfig
from engine.models.varsr.transformer import VARSRConfig
from engine.runtime.cancel import UserFacingError


@dataclass(frozen=True)
class T5Shape:
    """A T5 encoder stack (flan-t5-xl by default): what runs once per instruction."""

    width: int = 2048
    layers: int = 24
    d_ff: int = 5120
    heads: int = 32
    head_dim: int = 64
    vocab: int = 32128
    buckets: int = 32  # relative attention buckets (layer 0 only)
    max_tokens: int = 512  # the tokenizer pads to this length

    @property
    def params(self) -> int:
        inner = self.heads * self.head_dim
        attention = 4 * self.width * inner + self.width  # q, k, v, o + its layer norm
        ffn = 3 * self.width * self.d_ff + self.width  # gated GELU wi_0, wi_1, wo + norm
        return (
            self.vocab * self.width
            + self.layers * (attention + ffn)
            + self.buckets * self.heads
            + self.width
        )


@dataclass(frozen=True)
class ModelShape:
    """A model's architecture: ``family`` picks how it runs (bitwise or VAR-style)."""

    name: str
    family: str  # "varedit" | "infinity" | "var" | "demo" | "varsr"
    transformer: InfinityConfig | VARConfig | VARSRConfig
    vae: VaeConfig | VQVAEConfig
    text: T5Shape | None = None
    resolutions: tuple[int, ...] = ()  # supported square sizes; the first is the default

    @property
    def bitwise(self) -> bool:
        return isinstance(self.transformer, InfinityConfig)

    def check_resolution(self, resolution: int | None) -> int:
        if resolution is None:
            return self.resolutions[0]
        if resolution not in self.resolutions:
            sizes = ", ".join(str(r) for r in self.resolutions)
            raise UserFacingError(
                f"{self.name} runs at {sizes} px, not {resolution} px; pick one of those."
            )
        return int(resolution)


FLAN_T5_XL = T5Shape()

INFINITY_2B = InfinityConfig(
    embed_dim=2048, depth=32, block_chunks=8, num_heads=16, ffn_hidden=8192,
    token_dim=32, text_dim=2048, pool_heads=16, lvl_rows=15,
)  # fmt: skip
INFINITY_8B = InfinityConfig(
    embed_dim=3584, depth=40, block_chunks=8, num_heads=28, ffn_hidden=14336,
    token_dim=56, text_dim=2048, pool_heads=16, lvl_rows=15,
)  # fmt: skip
# Flux-style BSQ VAEs, base 128 channels, 2 blocks per level (varedit.md §3).
VAE_D32 = VaeConfig(128, (1, 2, 4, 4, 4), 2, 32, (0, 1, 2, 3), (1, 2, 3, 4))  # stride 16
VAE_D56 = VaeConfig(128, (1, 2, 4, 4), 2, 14, (0, 1, 2), (1, 2, 3))  # stride 8, 2x2 patchify

VAR_VQVAE = VQVAEConfig()
DEMO_PATCH_NUMS = (1, 2, 3, 4, 6, 8, 11, 16)


def _var(depth: int, patch_nums: tuple[int, ...] = PATCH_NUMS_256, **extra) -> VARConfig:
    return VARConfig(
        depth=depth, embed_dim=64 * depth, num_heads=depth, patch_nums=patch_nums, **extra
    )


def _build() -> dict[str, ModelShape]:
    shapes = [
        ModelShape("infinity-2b", "infinity", INFINITY_2B, VAE_D32, FLAN_T5_XL, (1024, 512, 256)),
        ModelShape("varedit-2b", "varedit", INFINITY_2B, VAE_D32, FLAN_T5_XL, (512, 256, 1024)),
        ModelShape("varedit-8b", "varedit", INFINITY_8B, VAE_D56, FLAN_T5_XL, (512, 1024, 256)),
        *(
            ModelShape(f"var-d{d}", "var", _var(d), VAR_VQVAE, resolutions=(256,))
            for d in (16, 20, 24, 30)
        ),
        ModelShape(
            "var-d36",
            "var",
            _var(36, PATCH_NUMS_512, shared_aln=True),
            VQVAEConfig(patch_nums=PATCH_NUMS_512),
            resolutions=(512,),
        ),
        ModelShape("varsr", "varsr", VARSRConfig(), VAR_VQVAE, resolutions=(512,)),
        # resources/models/demo (read from its files once): VAR d6, width 192, 128 px.
        ModelShape(
            "demo",
            "demo",
            VARConfig(
                depth=6,
                embed_dim=192,
                num_heads=3,
                vocab_size=1024,
                num_classes=2,
                patch_nums=DEMO_PATCH_NUMS,
            ),
            VQVAEConfig(
                ch=32,
                ch_mult=(1, 1, 2, 2),
                num_res_blocks=1,
                vocab_size=1024,
                patch_nums=DEMO_PATCH_NUMS,
            ),
            resolutions=(128,),
        ),  # fmt: skip
    ]
    return {shape.name: shape for shape in shapes}


SHAPES: dict[str, ModelShape] = _build()


def shape_named(name: str) -> ModelShape:
    """The shape a registry entry names; a clear error for models without one (imports)."""
    shape = SHAPES.get(name)
    if shape is None:
        raise UserFacingError(
            f"No memory plan for '{name}': Finescale knows the shapes of the released models only."
        )
    return shape
