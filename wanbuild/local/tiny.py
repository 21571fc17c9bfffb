"""A tiny, randomly initialised Wan 2.2 text-to-video model in the diffusers layout: two
experts (`transformer`, `transformer_2`, boundary_ratio 0.875), a Wan VAE, a small UMT5 text
encoder and a byte-level BPE tokenizer trained here. Nothing is downloaded. Its sizes are
those of diffusers' own tiny Wan test models; it trains on the CPU in seconds and stands in
for the real weights wherever a test or the demo needs a model."""

from __future__ import annotations

from pathlib import Path

# a few words of the kind captions use, so that common words are single tokens
_CORPUS = [
    "a person walks through a city street at night, neon signs glowing",
    "the camera pans slowly across a mountain lake in the morning light",
    "a woman in a red coat dances in the rain, money falling around her",
    "brand style, bold colours, clean product shot on a white background",
]
VOCAB = 384
TEXT_DIM = 32


def make_tiny_model(out: Path, seed: int = 0) -> None:
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

    from wanbuild.local.render import quiet

    quiet()

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )

    def expert() -> WanTransformer3DModel:
        return WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=TEXT_DIM,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )

    high, low = expert(), expert()
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=VOCAB,
            d_model=TEXT_DIM,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            decoder_start_token_id=0,
        )
    )
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        _CORPUS,
        trainers.BpeTrainer(
            vocab_size=VOCAB,
            special_tokens=["<pad>", "</s>", "<unk>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=512,
    )
    pipe = WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        transformer=high,
        transformer_2=low,
        boundary_ratio=0.875,
    )
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(out))
