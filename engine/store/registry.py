"""Known checkpoints: which files make up each model, where they are published, how big they are.

Sizes and memory figures were read from the reference code and papers; most are
computed or estimated (flagged per file / per model) because the hub pages were not all reachable
offline. sha256 values are unknown offline, so they are ``None`` here and checked against the hub's
own LFS metadata at download time (see ``engine.store.download``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.models.var.schedules import PATCH_NUMS_256, PATCH_NUMS_512

VAR_REPO = "FoundationVision/var"
INFINITY_REPO = "FoundationVision/Infinity"
VARSR_REPO = "qyp2000/VARSR"
VAREDIT_REPO = "HiDream-ai/VAREdit"
T5_REPO = "google/flan-t5-xl"


GB = 1e9


@dataclass(frozen=True)
class ModelFile:
    """One file of a model; ``repo_id == ""`` means it ships with Finescale (never downloaded)."""

    repo_id: str
    filename: str
    size_bytes: int
    sha256: str | None
    role: str
    size_is_estimate: bool = False
    revision: str = "main"
    # Published files this one is made from after download (then deleted): flan-t5-xl's
    # encoder-only weights are written from its two full shards.
    built_from: tuple[ModelFile, ...] = ()

    @property
    def download_files(self) -> tuple[ModelFile, ...]:
        return self.built_from or (self,)

    @property
    def key(self) -> str:
        """Identity shared by every model that uses this exact published file (e.g. the VQVAE)."""
        return f"{self.repo_id}/{self.filename}" if self.repo_id else f"local/{self.filename}"


@dataclass(frozen=True)
class ModelSpec:
    """A model the user can pick: its files plus what the UI needs to describe it honestly."""

    id: str
    family: str  # "var" | "infinity" | "varedit" | "varsr" | "demo"
    title: str
    files: tuple[ModelFile, ...]
    license: str
    resolution: int
    tasks: tuple[str, ...]
    patch_nums: tuple[int, ...] | None
    memory_gb: dict[str, float] = field(hash=False, compare=False)
    notes: str = ""
    published: bool = True  # False: referenced by upstream code but not found in a release
    custom: bool = False  # True: imported by the user, not a released checkpoint
    shape: str = ""  # engine.planning.shapes name (the memory plan's architecture); "" unknown

    @property
    def total_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    @property
    def size_is_estimate(self) -> bool:
        return any(f.size_is_estimate for f in self.files)

    @property
    def download_files(self) -> tuple[ModelFile, ...]:
        """What is fetched from the hub (``files`` with built files replaced by their sources)."""
        return tuple(part for f in self.files for part in f.download_files)

    @property
    def download_bytes(self) -> int:
        return sum(f.size_bytes for f in self.download_files)

    def file(self, role: str) -> ModelFile:
        for model_file in self.files:
            if model_file.role == role:
                return model_file
        raise KeyError(role)


# --------------------------------------------------------------------------------------------
# Memory estimates. Every figure is an estimate (weights + KV cache of both CFG branches + a
# margin for activations and the VAE decode); var.md §8 measured d16 fp32 on CPU at ~2.3 GiB.


def _var_memory(var_bytes: int, depth: int, width: int, tokens: int, vae_bytes: int) -> dict:
    """VAR keeps the VQVAE and the non-block tensors in fp32; half precision halves the blocks."""
    margin = 0.5 if tokens < 1000 else 1.5
    kv_fp32 = depth * 2 * 2 * tokens * width * 4
    fp32 = (var_bytes + vae_bytes + kv_fp32) / GB + margin
    half = (var_bytes / 2 + vae_bytes + kv_fp32 / 2) / GB + margin
    return {
        "cuda-fp16": round(half, 1),
        "cuda-bf16": round(half, 1),
        "cuda-fp32": round(fp32, 1),
        "cpu-fp32": round(fp32, 1),
    }


def _infinity_memory(
    params: float, depth: int, width: int, tokens: int, vae_params: float, margin: float
) -> dict:
    """Transformer in bf16, T5-XL encoder in fp16 (~2.4 GB), VAE in fp32 (varedit.md §10)."""
    t5_half = 2.4e9
    kv_half = depth * 2 * 2 * tokens * width * 2
    half = (params * 2 + vae_params * 4 + t5_half + kv_half) / GB + margin
    fp32 = (params * 4 + vae_params * 4 + t5_half * 2 + kv_half * 2) / GB + margin
    return {
        "cuda-bf16": round(half, 1),
        "cuda-fp16": round(half, 1),
        "cuda-fp32": round(fp32, 1),
        "cpu-fp32": round(fp32, 1),
    }


# --------------------------------------------------------------------------------------------
# Files

VAR_VAE = ModelFile(VAR_REPO, "vae_ch160v4096z32.pth", 436_073_941, None, "vae", True)

# (depth, file size: fp32 state_dict bytes from var.md Appendix A + ~80 kB pickle overhead)
_VAR_SIZES = {16: 1_243_133_301, 20: 2_405_705_000, 24: 4_135_680_000, 30: 8_042_250_000}
_VAR_PARAMS = {16: "310M", 20: "600M", 24: "1.0B", 30: "2.0B"}
_VAR_FID = {16: "3.55", 20: "2.95", 24: "2.33", 30: "1.97"}

INFINITY_VAE_D32 = ModelFile(
    INFINITY_REPO, "infinity_vae_d32reg.pth", 1_560_000_000, None, "vae", True
)
# Unknown size: scaled from d32reg by parameter count (81.6M vs 110.1M).
INFINITY_VAE_D56 = ModelFile(
    INFINITY_REPO, "infinity_vae_d56_f8_14_patchify.pth", 1_160_000_000, None, "vae", True
)

# google/flan-t5-xl: sizes as listed on the hub's file page (rounded there, so estimates).
# Only the encoder is used (T5EncoderModel), so after download its tensors (``shared.*``,
# ``encoder.*``: 1,223,527,424 fp32 values, counted from the model's config on the meta device)
# are written into one ``model.safetensors`` and the two full shards (11.40 GB) are deleted.
T5_SHARDS = (
    ModelFile(
        T5_REPO,
        "model-00001-of-00002.safetensors",
        9_450_000_000,
        None,
        "t5:model-00001-of-00002.safetensors",
        True,
    ),
    ModelFile(
        T5_REPO,
        "model-00002-of-00002.safetensors",
        1_950_000_000,
        None,
        "t5:model-00002-of-00002.safetensors",
        True,
    ),
)
T5_ENCODER_BYTES = 4_894_109_696  # tensor bytes; the safetensors header adds ~20 kB
T5_ENCODER = ModelFile(
    T5_REPO,
    "model.safetensors",
    T5_ENCODER_BYTES,
    None,
    "t5:model.safetensors",
    True,
    built_from=T5_SHARDS,
)
T5_FILES = (
    ModelFile(T5_REPO, "config.json", 1_440, None, "t5:config.json", True),
    ModelFile(T5_REPO, "spiece.model", 791_656, None, "t5:spiece.model", True),
    ModelFile(T5_REPO, "tokenizer.json", 2_420_000, None, "t5:tokenizer.json", True),
    ModelFile(T5_REPO, "tokenizer_config.json", 2_540, None, "t5:tokenizer_config.json", True),
    ModelFile(T5_REPO, "special_tokens_map.json", 2_200, None, "t5:special_tokens_map.json", True),
    T5_ENCODER,
)
DEMO_FILES = (  # fp16 (codebook fp32); tools/train_demo.py rebuilds them, seeded
    ModelFile(
        "", "vae.safetensors", 2_586_718,
        "a0074b920d3d295dc391e59a5997b2eb31ba9910dda194ab05983de570f5d417", "vae",
    ),
    ModelFile(
        "", "var.safetensors", 9_279_046,
        "8dffa69dd0012c934e04c3d6add8ff55cac275ec7653c0d91c3d6b7f2512efe2", "transformer",
    ),
)  # fmt: skip

VAR_TASKS = ("generate", "inpaint", "outpaint", "edit", "upscale")


def _var_spec(depth: int) -> ModelSpec:
    width = 64 * depth
    size = _VAR_SIZES[depth]
    return ModelSpec(
        id=f"var-d{depth}",
        family="var",
        title=f"VAR-d{depth} ({_VAR_PARAMS[depth]}, 256 px, ImageNet classes)",
        files=(VAR_VAE, ModelFile(VAR_REPO, f"var_d{depth}.pth", size, None, "transformer", True)),
        license="MIT",
        resolution=256,
        tasks=VAR_TASKS,
        patch_nums=PATCH_NUMS_256,
        memory_gb=_var_memory(size, depth, width, 680, VAR_VAE.size_bytes),
        shape=f"var-d{depth}",
        notes=(
            f"ImageNet 256 px class-conditional, README FID {_VAR_FID[depth]}. File size = fp32 "
            "state_dict computed from the official code (var.md §1), so approximate."
        ),
    )


def _var_models() -> list[ModelSpec]:
    d36_size = 9_436_080_000
    models = [_var_spec(depth) for depth in (16, 20, 24, 30)]
    models.append(
        ModelSpec(
            id="var-d36-512",
            family="var",
            title="VAR-d36 (2.3B, 512 px, shared AdaLN, ImageNet classes)",
            files=(
                VAR_VAE,
                ModelFile(VAR_REPO, "var_d36.pth", d36_size, None, "transformer", True),
            ),
            license="MIT",
            resolution=512,
            tasks=VAR_TASKS,
            patch_nums=PATCH_NUMS_512,
            memory_gb=_var_memory(d36_size, 36, 2304, 2240, VAR_VAE.size_bytes),
            notes="Recommended by the VAR authors for zero-shot in/out-painting (512 px).",
            shape="var-d36",
        )
    )
    return models


def _infinity_models() -> list[ModelSpec]:
    """Infinity-2B and the VAREdit fine-tunes: BSQ VAE, bitwise transformer, flan-t5-xl.

    Long only because it is a table: one declaration per released checkpoint.
    """
    models = []
    models.append(
        ModelSpec(
            id="infinity-2b",
            family="infinity",
            title="Infinity-2B (text-to-image, text-guided in/out-painting, 1024 px)",
            files=(
                INFINITY_VAE_D32,
                ModelFile(
                    INFINITY_REPO, "infinity_2b_reg.pth", 8_820_000_000, None, "transformer", True
                ),
                *T5_FILES,
            ),
            license="MIT (weights); flan-t5-xl: Apache-2.0",
            resolution=1024,
            tasks=("generate", "inpaint", "outpaint"),
            patch_nums=None,
            memory_gb=_infinity_memory(2.205e9, 32, 2048, 10521, 110.1e6, 2.0),
            notes=(
                "Bitwise tokens + BSQ VAE; needs the flan-t5-xl text encoder (11.4 GB to "
                "download, 4.9 GB kept: the encoder half)."
            ),
            shape="infinity-2b",
        )
    )
    varedit_common = dict(
        family="varedit",
        license="unverified (code MIT); VAE: MIT; flan-t5-xl: Apache-2.0",
        tasks=("edit",),
        patch_nums=None,
    )
    models.append(
        ModelSpec(
            id="varedit-2b-512",
            title="VAREdit-2B (instruction editing, 512 px) - not published",
            files=(
                INFINITY_VAE_D32,
                ModelFile(VAREDIT_REPO, "2B-512.pth", 8_820_000_000, None, "transformer", True),
                *T5_FILES,
            ),
            resolution=512,
            memory_gb=_infinity_memory(2.205e9, 32, 2048, 1024 + 2521, 110.1e6, 1.0),
            notes=(
                "Only referenced by VAREdit's app.py ('# Update this path'); the README lists the "
                "8B checkpoints only, so no download is offered. Import it if you have the file."
            ),
            published=False,
            shape="varedit-2b",
            **varedit_common,
        )
    )
    for reso, tokens, margin in ((512, 1024 + 2521, 1.0), (1024, 4096 + 10521, 2.0)):
        models.append(
            ModelSpec(
                id=f"varedit-8b-{reso}",
                title=f"VAREdit-8B (instruction editing, {reso} px)",
                files=(
                    INFINITY_VAE_D56,
                    ModelFile(
                        VAREDIT_REPO, f"8B-{reso}.pth", 33_500_000_000, None, "transformer", True
                    ),
                    *T5_FILES,
                ),
                resolution=reso,
                memory_gb=_infinity_memory(8.376e9, 40, 3584, tokens, 81.6e6, margin),
                notes=(
                    "Transformer file size assumed fp32 (~33.5 GB, not verifiable offline). "
                    "The authors report 50 GB peak VRAM including checkpoint loading."
                ),
                shape="varedit-8b",
                **varedit_common,
            )
        )
    return models


def _other_models() -> list[ModelSpec]:
    """VARSR (its own VQVAE) and the demo model that ships with Finescale."""
    models = []
    models.append(
        ModelSpec(
            id="varsr",
            family="varsr",
            title="VARSR (x4 super-resolution, 512 px windows)",
            files=(  # sizes: the fp32 state dicts (varsr.md §1); the trainer files hold more
                ModelFile(VARSR_REPO, "VQVAE.pth", 435_957_260, None, "vae", True),
                ModelFile(VARSR_REPO, "VARSR.pth", 4_450_454_144, None, "transformer", True),
            ),
            license="MIT (code); weights: see the model card",
            resolution=512,
            tasks=("upscale",),
            patch_nums=None,
            memory_gb={"cpu-fp32": 7.5, "cuda-fp32": 7.5, "cuda-bf16": 4.5, "cuda-fp16": 4.5},
            notes=(
                "VAR-d24 fine-tune with the low-resolution photo as a prefix and a diffusion "
                "refiner (ICML 2025); its own VQVAE. Memory: weights + KV cache, estimated."
            ),
            shape="varsr",
        )
    )
    models.append(
        ModelSpec(
            id="demo",
            family="demo",
            title="Demo — low quality (built in, 128 px)",
            files=DEMO_FILES,
            license="MIT",
            resolution=128,
            tasks=VAR_TASKS,
            patch_nums=None,
            memory_gb={"cuda-fp16": 0.3, "cuda-bf16": 0.3, "cuda-fp32": 0.3, "cpu-fp32": 0.3},
            notes="Ships with Finescale in resources/models/demo/; works offline out of the box.",
            shape="demo",
        )
    )
    return models


def _build_models() -> tuple[ModelSpec, ...]:
    return (*_var_models(), *_infinity_models(), *_other_models())


_MODELS: tuple[ModelSpec, ...] = _build_models()
_BY_ID = {spec.id: spec for spec in _MODELS}


def released_models() -> tuple[ModelSpec, ...]:
    """Every published model Finescale knows, in display order."""
    return _MODELS


def released_model(model_id: str) -> ModelSpec | None:
    return _BY_ID.get(model_id)


def memory_estimate_gb(spec: ModelSpec, device: str, dtype: str) -> float | None:
    """Rough peak memory for one image; ``None`` when the model has no figure at all.

    MPS shares system memory but runs the GPU code path, so it uses the CUDA figures; a CPU run in
    half precision is charged the fp32 figure because CPU kernels often upcast.
    """
    if device == "cpu":
        keys: tuple[str, ...] = (f"cpu-{dtype}", "cpu-fp32")
    else:
        keys = (f"cuda-{dtype}", "cuda-fp32", "cpu-fp32")
    for key in keys:
        if key in spec.memory_gb:
            return spec.memory_gb[key]
    return None


def specs_using(model_file: ModelFile) -> list[ModelSpec]:
    """Every released model that needs this file (the shared VQVAE serves all VAR depths)."""
    return [spec for spec in _MODELS if any(f.key == model_file.key for f in spec.files)]
