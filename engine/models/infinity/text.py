"""The instruction encoder: a Hugging Face T5 encoder folder (``google/flan-t5-xl``).

Tokenised like the reference (``legacy=True``, padded/truncated to 512), encoder weights only
(``T5EncoderModel`` skips the decoder tensors of a full T5 checkpoint), read from safetensors.
Only the valid tokens (``</s>`` included) are returned: the transformer attends to exactly
those. For small GPUs the encoder can run on the CPU (fp32; only the features move) or be
freed after each encode (``release_after``) and re-read from its folder when needed.
"""

from __future__ import annotations

import os

import torch

from engine.runtime.cancel import UserFacingError

MAX_TOKENS = 512


class T5TextEncoder:
    """``release_after``: free the encoder (and its device memory) after every encode and
    re-create it from ``folder`` for the next one (the model caches recent features, so only
    a new instruction pays for it)."""

    def __init__(
        self,
        folder: str,
        device: torch.device | str = "cpu",
        dtype=torch.float32,
        release_after: bool = False,
    ):
        if not os.path.isdir(folder):
            raise UserFacingError(f"{folder}: the text encoder must be a model folder.")
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # load progress is the engine's ModelLoading events
        self.folder, self.device, self.dtype = folder, torch.device(device), dtype
        self.release_after = release_after
        self.loads = 0  # how often the weights were read (once unless released)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, legacy=True)
        except (OSError, ValueError, KeyError) as exc:
            raise self._unreadable(exc) from exc
        self.tokenizer.model_max_length = MAX_TOKENS
        self.model: torch.nn.Module | None = self._load()
        self.width = int(self.model.config.d_model)

    def _unreadable(self, exc: Exception) -> UserFacingError:
        return UserFacingError(
            f"{os.path.basename(self.folder.rstrip(os.sep))}: not a readable T5 model folder "
            f"(tokenizer + safetensors weights needed): {exc}"
        )

    def _load(self) -> torch.nn.Module:
        from transformers import T5EncoderModel

        try:
            model = T5EncoderModel.from_pretrained(
                self.folder, dtype=self.dtype, use_safetensors=True
            )
        except (OSError, ValueError, KeyError) as exc:
            raise self._unreadable(exc) from exc
        self.loads += 1
        return model.to(self.device).eval().requires_grad_(False)

    def tokenize(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.tokenizer(
            text=[text],
            max_length=MAX_TOKENS,
            padding="max_length",
            truncation=True,
            return_tensors="pt",
        )
        return tokens.input_ids, tokens.attention_mask

    @torch.inference_mode()
    def encode(self, text: str) -> torch.Tensor:
        """(L, d_model) float32 features of the L valid tokens, on the encoder's device."""
        if self.model is None:
            if not self.release_after:
                raise RuntimeError("the text encoder was released")
            self.model = self._load()
        ids, mask = self.tokenize(text)
        out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
        length = int(mask.sum())
        features = out.last_hidden_state[0, :length].float()
        if self.release_after:
            self.release()
        return features

    def release(self) -> None:
        """Drop the encoder weights (the tokenizer stays) and give their device memory back;
        encoding afterwards re-creates them only with ``release_after``."""
        self.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
