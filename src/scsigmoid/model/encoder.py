"""The encoder: a pre-LN BERT-style transformer over rank-ordered gene tokens.

Choices (the paper does not state them):

- token embedding + learned position (rank) embedding; pre-LN blocks; GELU FFN x4; final LN;
- masked-gene head = dense + GELU + LN, then a decoder TIED to the token embedding (BERT's head),
  evaluated only at the masked positions, so the vocabulary-sized logits never cover every token;
- head dim 64 at every size but `tiny` (2 heads of 32); no dropout (single-epoch pretraining);
- ``attention`` ('softmax' | 'sigmoid', and for sigmoid the kernel: our ``sigattn`` or the authors'
  ``tritonsigmoid``) is the only difference between the arms; it is dispatched in
  :mod:`scsigmoid.model.attention`;
- initialisation: every parameter is drawn from its own generator seeded by (seed, parameter name),
  so it depends neither on ``max_len`` (the first rows of a longer position table are the rows of a
  shorter one) nor on the attention choice: two runs differ only by what they are meant to.
- :meth:`Encoder.compile_blocks` compiles the blocks' dense parts (not the attention) for speed;
- cell embeddings (:func:`embed`): ``mean`` = mean of the final-layer (post final-LN) outputs of the
  valid gene tokens, CLS EXCLUDED; ``cls`` = the CLS token's output.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from scsigmoid.model.attention import (
    Packed,
    Padded,
    attend,
    attend_packed,
    check_attention,
    max_logit_proxy,
    max_logit_proxy_packed,
)

# name -> (layers, d_model, heads); head dim 64 (tiny: 32).
SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (2, 64, 2),  # CPU tests and CI
    "small": (6, 256, 4),  # reduced-scale replication: a few minutes per run on one H200
    "160M": (12, 1024, 16),
    "400M": (32, 1024, 16),
    "600M": (24, 1536, 24),
    "1.4B": (28, 2048, 32),
}


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    max_len: int = 4096  # positions (ranks) the position embedding covers; CLS is rank 0
    n_layers: int = 6
    d_model: int = 256
    n_heads: int = 4
    ffn_mult: int = 4
    attention: str = "sigmoid"
    init_std: float = 0.02
    sigmoid_kernel: str = "sigattn"  # sigattn (ours) | tritonsigmoid (the authors', padded only)

    def __post_init__(self):
        check_attention(self.attention, self.sigmoid_kernel)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"ModelConfig: d_model={self.d_model} is not divisible by n_heads={self.n_heads}."
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @classmethod
    def of_size(cls, size: str, *, vocab_size: int, **overrides) -> ModelConfig:
        """The named size ('tiny', 'small', '160M', '400M', '600M', '1.4B')."""
        if size not in SIZES:
            raise ValueError(f"unknown model size {size!r}; choose one of {list(SIZES)}.")
        layers, d_model, heads = SIZES[size]
        return cls(vocab_size=vocab_size, n_layers=layers, d_model=d_model, n_heads=heads, **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def qkv_heads(self, x):
        """``[..., d]`` -> q, k, v ``[..., H, head_dim]`` (padded ``[B, L]`` or packed ``[T]``)."""
        q, k, v = self.qkv(x).unflatten(-1, (3, self.cfg.n_heads, self.cfg.head_dim)).unbind(-3)
        return q, k, v

    def forward(self, x, layout, want_max_logit: bool = False):
        q, k, v = self.qkv_heads(x)
        out, max_logit = _attention(q, k, v, layout, self.cfg, want_max_logit)
        return self.proj(out.flatten(-2)), max_logit


@torch.compiler.disable
def _attention(q, k, v, layout, cfg: ModelConfig, want_max_logit: bool):
    """The attention of one layer (and its max-logit proxy): always eager, also inside
    :meth:`Encoder.compile_blocks`' compiled blocks, so every arm runs its own kernel as written."""
    if isinstance(layout, Packed):
        out = attend_packed(q, k, v, layout, cfg.attention, cfg.sigmoid_kernel)
        max_logit = max_logit_proxy_packed(q, k, layout.cu_seqlens) if want_max_logit else None
    else:
        out = attend(q, k, v, layout, cfg.attention, cfg.sigmoid_kernel)
        max_logit = max_logit_proxy(q, k, layout.seq_lens) if want_max_logit else None
    return out, max_logit


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.ffn_mult * cfg.d_model),
            nn.GELU(),
            nn.Linear(cfg.ffn_mult * cfg.d_model, cfg.d_model),
        )

    def forward(self, x, layout, want_max_logit: bool = False):
        a, max_logit = self.attn(self.ln1(x), layout, want_max_logit)
        x = x + a
        x = x + self.ffn(self.ln2(x))
        return x, max_logit


class Encoder(nn.Module):
    """Token ids ``[B, L]`` (CLS first, trailing PAD) + ``seq_lens [B]`` -> hidden ``[B, L, d]``."""

    def __init__(self, cfg: ModelConfig, seed: int = 0):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        # masked-gene head: transform, then a decoder tied to tok_emb (+ its own bias)
        self.head_transform = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_model), nn.GELU(), nn.LayerNorm(cfg.d_model)
        )
        self.head_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.init_parameters(seed)

    @torch.no_grad()
    def init_parameters(self, seed: int) -> None:
        """Matrices and embeddings ~ N(0, init_std) (GPT-2 style: residual projections scaled by
        1/sqrt(2·layers)), biases 0, LayerNorms 1/0; each drawn from a generator seeded by
        (seed, parameter name) on the parameter's device."""
        cfg = self.cfg
        nn.init.zeros_(self.head_bias)
        for mod_name, module in self.named_modules():
            if isinstance(module, nn.LayerNorm):
                module.reset_parameters()  # weight 1, bias 0
                continue
            if not isinstance(module, (nn.Linear, nn.Embedding)) or module.weight.is_meta:
                continue
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
            std = cfg.init_std
            if mod_name.endswith("attn.proj") or mod_name.endswith("ffn.2"):
                std = cfg.init_std / math.sqrt(2 * cfg.n_layers)
            w = module.weight
            gen = torch.Generator(device=w.device)
            gen.manual_seed(zlib.crc32(f"{seed}:{mod_name}.weight".encode()))
            w.copy_(torch.randn(w.shape, generator=gen, device=w.device, dtype=w.dtype) * std)

    def set_attention(self, attention: str, sigmoid_kernel: str = "sigattn") -> Encoder:
        """Switch the attention of every layer (same weights): the throughput protocol times the
        arms on one model. Returns self."""
        cfg = dataclasses.replace(self.cfg, attention=attention, sigmoid_kernel=sigmoid_kernel)
        self.cfg = cfg
        for block in self.blocks:
            block.attn.cfg = cfg
        return self

    def compile_blocks(self) -> Encoder:
        """``torch.compile`` the dense part of every block (LayerNorms, projections, FFN, residual
        adds, and autocast's casts between them, fused by Inductor); the attention itself stays
        eager (:func:`_attention`), so the arms differ only by their kernel. The blocks share their
        code, so one compiled graph serves every layer; ``dynamic=True``: batches of any token
        count reuse it. Returns self."""
        for block in self.blocks:
            block.compile(dynamic=True)
        return self

    def forward(self, tokens, layout, want_max_logit: bool = False):
        """Padded: ``tokens [B, L]`` + ``layout`` = seq_lens ``[B]`` -> hidden ``[B, L, d]``;
        packed: ``tokens [T]`` + ``layout`` = :class:`Packed` -> hidden ``[T, d]``.
        Also returns the per-layer max logits ``[n_layers]`` (or None)."""
        packed = isinstance(layout, Packed)
        if not packed and not isinstance(layout, Padded):
            layout = Padded.from_lengths(layout, tokens.shape[1])  # once per batch, not per layer
        length = layout.max_len if packed else tokens.shape[1]
        if length > self.cfg.max_len:
            raise ValueError(
                f"input length {length} exceeds the model's max_len {self.cfg.max_len}; "
                "truncate to the context or build the model with a larger max_len."
            )
        if packed:
            x = self.tok_emb(tokens) + self.pos_emb(layout.positions)
        else:
            x = self.tok_emb(tokens) + self.pos_emb(torch.arange(length, device=tokens.device))[None]
        logits_max = []
        for block in self.blocks:
            x, m = block(x, layout, want_max_logit)
            logits_max.append(m)
        x = self.ln_f(x)
        return x, (torch.stack(logits_max).float() if want_max_logit else None)

    def mlm_logits(self, hidden_at_masked: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits for the given hidden states ``[N, d]`` (the masked positions only)."""
        h = self.head_transform(hidden_at_masked)
        return F.linear(h, self.tok_emb.weight, self.head_bias)

    def param_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        embedding = self.tok_emb.weight.numel() + self.pos_emb.weight.numel() + self.head_bias.numel()
        return {"params_total": total, "params_non_embedding": total - embedding}


def size_table(vocab_size: int, max_len: int = 8192) -> pd.DataFrame:
    """One row per named size: layers, d_model, heads, head_dim, ffn, parameter counts.

    Built on the ``meta`` device, so even the 1.4B model allocates nothing."""
    rows = []
    for size in SIZES:
        cfg = ModelConfig.of_size(size, vocab_size=vocab_size, max_len=max_len)
        with torch.device("meta"):
            counts = Encoder(cfg).param_counts()
        rows.append(
            {
                "size": size,
                "layers": cfg.n_layers,
                "d_model": cfg.d_model,
                "heads": cfg.n_heads,
                "head_dim": cfg.head_dim,
                "ffn": cfg.ffn_mult * cfg.d_model,
                "vocab_size": vocab_size,
                "max_len": max_len,
                **counts,
            }
        )
    return pd.DataFrame(rows)


def pad_batch(seqs: list[np.ndarray], pad_id: int = 0, multiple: int = 1):
    """Stack variable-length int arrays into ``(tokens [B, L] int64, seq_lens [B] int64)``;
    ``L`` is the longest row rounded up to ``multiple``."""
    lens = np.array([len(s) for s in seqs], dtype=np.int64)
    length = int(-(-lens.max() // multiple) * multiple)
    tokens = np.full((len(seqs), length), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s
    return torch.from_numpy(tokens), torch.from_numpy(lens)


@torch.no_grad()
def embed(model: Encoder, corpus, *, context: int, batch_size: int, device) -> dict[str, np.ndarray]:
    """Cell embeddings of every cell of ``corpus`` (a TokenCorpus) at ``context``:
    ``{'mean': [N, d], 'cls': [N, d]}`` float32 (mean excludes CLS; see module docstring)."""
    from scsigmoid.data.corpus import PAD_ID

    device = torch.device(device)
    model.eval()
    n, d = len(corpus), model.cfg.d_model
    mean_out = np.zeros((n, d), dtype=np.float32)
    cls_out = np.zeros((n, d), dtype=np.float32)
    lengths = np.minimum(corpus.lengths, context)
    order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        tokens, lens = pad_batch([corpus.cell(int(i), context) for i in idx], PAD_ID)
        tokens, lens = tokens.to(device), lens.to(device)
        with autocast:
            hidden, _ = model(tokens, lens)
        hidden = hidden.float()
        gene_ok = torch.arange(tokens.shape[1], device=device)[None, :] < lens[:, None]
        gene_ok[:, 0] = False  # exclude CLS from the mean
        denom = gene_ok.sum(1, keepdim=True).clamp(min=1)
        mean = (hidden * gene_ok[..., None]).sum(1) / denom
        mean_out[idx] = mean.cpu().numpy()
        cls_out[idx] = hidden[:, 0].cpu().numpy()
    return {"mean": mean_out, "cls": cls_out}
