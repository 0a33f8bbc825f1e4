"""The instruction encoder: a Hugging Face T5 encoder folder (``google/flan-t5-xl``).

Tokenised like the reference (``legacy=True``, padded/truncated to 512), encoder weights only
(``T5EncoderModel`` skips the decoder tensors of a full T5 checkpoint), read from safetensors.
Only the valid tokens (``</s>`` included) are returned: the transformer attends to exactly
those. ``release()`` frees the encoder once the text is encoded, for small GPUs.
"""

from __future__ import annotations

import os

import torch

from engine.runtime.cancel import UserFacingError

MAX_TOKENS = 512


class T5TextEncoder:
    def __init__(self, folder: str, device: torch.device | str = "cpu", dtype=torch.float32):
        if not os.path.isdir(folder):
            raise UserFacingError(f"{folder}: the text encoder must be a model folder.")
        from transformers import AutoTokenizer, T5EncoderModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # load progress is the engine's ModelLoading events

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, legacy=True)
            model = T5EncoderModel.from_pretrained(folder, dtype=dtype, use_safetensors=True)
        except (OSError, ValueError, KeyError) as exc:
            raise UserFacingError(
                f"{os.path.basename(folder.rstrip(os.sep))}: not a readable T5 model folder "
                f"(tokenizer + safetensors weights needed): {exc}"
            ) from exc
        self.tokenizer.model_max_length = MAX_TOKENS
        self.device = torch.device(device)
        self.model: torch.nn.Module | None = model.to(self.device).eval().requires_grad_(False)
        self.width = int(model.config.d_model)

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
        """(L, d_model) float32 features of the L valid tokens."""
        if self.model is None:
            raise RuntimeError("the text encoder was released")
        ids, mask = self.tokenize(text)
        out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
        length = int(mask.sum())
        return out.last_hidden_state[0, :length].float()

    def release(self) -> None:
        """Drop the encoder weights (the tokenizer stays); encoding afterwards is an error."""
        self.model = None
