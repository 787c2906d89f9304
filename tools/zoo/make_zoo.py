#!/usr/bin/env python3
"""tools/zoo/make_zoo.py — build the classification test zoo (tests/zoo/zoo.tar.zst).

Tiny random-init HuggingFace `transformers` models (hidden 32, 1-2 layers, vocabulary 80), one per
family, spread over text encoders, decoders (dense and mixture-of-experts), seq2seq, vision, audio
and multimodal models, each saved with save_pretrained(safe_serialization=True) in fp16, beside a
ground truth file: for every tensor in model.safetensors, the PyTorch module that owns it (its
class name and base classes), so that tests/e2e_zoo.sh can judge wgpack's roles against the
module types, and the config's model_type and the architecture kind for families and components.

usage: python3 tools/zoo/make_zoo.py OUTDIR [zoo|holdout|NAME,...]
       (writes OUTDIR/zoo.tar.xz and OUTDIR/zoo-log.json; holdout.tar.xz for the held-out set)
The shipped fixture is the same archive recompressed (needs the machine with transformers; the
one here was built with transformers 5.17.0 and torch 2.11.0):
       mkdir z && tar -xJf OUTDIR/zoo.tar.xz -C z && (cd z && tar -c --sort=name --mtime=@0 \
         --owner=0 --group=0 --numeric-owner zoo) | zstd -19 --long=27 -o tests/zoo/zoo.tar.zst
A family whose config or model fails to construct in this transformers version is skipped and
reported; the others go on. Runs on CPU in a few minutes. Deterministic seeds per model.
"""
import io, json, os, shutil, signal, sys, tarfile, tempfile, time, traceback

import torch
import transformers
from safetensors import safe_open

H, I, V, L, P = 32, 64, 80, 2, 32


def text(**kw):
    base = dict(hidden_size=H, num_hidden_layers=L, num_attention_heads=2, intermediate_size=I,
                vocab_size=V, max_position_embeddings=P)
    base.update(kw)
    return base


def seq2seq(**kw):
    base = dict(d_model=H, encoder_layers=L, decoder_layers=L, encoder_attention_heads=2,
                decoder_attention_heads=2, encoder_ffn_dim=I, decoder_ffn_dim=I, vocab_size=V,
                max_position_embeddings=P, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                decoder_start_token_id=2)
    base.update(kw)
    return base


def vision(**kw):
    base = dict(hidden_size=H, num_hidden_layers=L, num_attention_heads=2, intermediate_size=I,
                image_size=32, patch_size=8, num_labels=3)
    base.update(kw)
    return base


def audio(**kw):
    base = dict(hidden_size=H, num_hidden_layers=L, num_attention_heads=2, intermediate_size=I,
                vocab_size=32, conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3),
                num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    base.update(kw)
    return base


LLAMA_TEXT = dict(model_type="llama", **text(num_key_value_heads=1))
CLIP_TEXT = dict(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=2,
                 vocab_size=V, max_position_embeddings=P)
CLIP_VISION = dict(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=2,
                   image_size=32, patch_size=8)
MOE = dict(num_experts_per_tok=2)

# (directory, kind, model_type, model class, config kwargs, save options)
ZOO = [
    # text encoders
    ("bert", "encoder", "bert", "BertForMaskedLM", text(type_vocab_size=2), {}),
    ("distilbert", "encoder", "distilbert", "DistilBertForMaskedLM",
     dict(dim=H, n_layers=L, n_heads=2, hidden_dim=I, vocab_size=V, max_position_embeddings=P), {}),
    ("roberta", "encoder", "roberta", "RobertaForMaskedLM", text(pad_token_id=1), {}),
    ("xlm-roberta", "encoder", "xlm-roberta", "XLMRobertaForSequenceClassification",
     text(pad_token_id=1, num_labels=3), {}),
    ("electra", "encoder", "electra", "ElectraForPreTraining", text(embedding_size=16), {}),
    ("albert", "encoder", "albert", "AlbertForMaskedLM", text(embedding_size=16), {}),
    ("deberta-v2", "encoder", "deberta-v2", "DebertaV2ForMaskedLM",
     text(relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=8), {}),
    ("mpnet", "encoder", "mpnet", "MPNetForMaskedLM", text(), {}),
    ("convbert", "encoder", "convbert", "ConvBertForMaskedLM", text(embedding_size=32), {}),
    ("modernbert", "encoder", "modernbert", "ModernBertForMaskedLM",
     text(global_attn_every_n_layers=2, local_attention=16, pad_token_id=0, bos_token_id=1,
          eos_token_id=2, cls_token_id=3, sep_token_id=4), {}),
    # dense decoders
    ("gpt2", "decoder", "gpt2", "GPT2LMHeadModel",
     dict(n_embd=H, n_layer=L, n_head=2, n_positions=P, vocab_size=V), {}),
    ("gpt_bigcode", "decoder", "gpt_bigcode", "GPTBigCodeForCausalLM",
     dict(n_embd=H, n_layer=L, n_head=2, n_positions=P, vocab_size=V), {}),
    ("gpt_neox", "decoder", "gpt_neox", "GPTNeoXForCausalLM", text(tie_word_embeddings=False), {}),
    ("gptj", "decoder", "gptj", "GPTJForCausalLM",
     dict(n_embd=H, n_layer=L, n_head=2, n_positions=P, vocab_size=V, rotary_dim=8), {}),
    ("gpt_neo", "decoder", "gpt_neo", "GPTNeoForCausalLM",
     dict(hidden_size=H, num_layers=L, num_heads=2, attention_types=[[["global", "local"], 1]],
          max_position_embeddings=P, vocab_size=V, intermediate_size=I, window_size=16), {}),
    ("codegen", "decoder", "codegen", "CodeGenForCausalLM",
     dict(n_embd=H, n_layer=L, n_head=2, n_positions=P, n_ctx=P, vocab_size=V, rotary_dim=8), {}),
    ("bloom", "decoder", "bloom", "BloomForCausalLM",
     dict(hidden_size=H, n_layer=L, n_head=2, vocab_size=V), {}),
    ("falcon", "decoder", "falcon", "FalconForCausalLM",
     text(num_kv_heads=1, tie_word_embeddings=False), {}),
    ("phi", "decoder", "phi", "PhiForCausalLM", text(), {}),
    ("phi3", "decoder", "phi3", "Phi3ForCausalLM", text(pad_token_id=0), {}),
    ("llama", "decoder", "llama", "LlamaForCausalLM", text(num_key_value_heads=1), {}),
    ("mistral", "decoder", "mistral", "MistralForCausalLM", text(num_key_value_heads=1), {}),
    ("qwen2", "decoder", "qwen2", "Qwen2ForCausalLM", text(num_key_value_heads=1), {}),
    ("qwen3", "decoder", "qwen3", "Qwen3ForCausalLM", text(num_key_value_heads=1, head_dim=16), {}),
    ("gemma", "decoder", "gemma", "GemmaForCausalLM", text(num_key_value_heads=1, head_dim=16), {}),
    ("gemma2", "decoder", "gemma2", "Gemma2ForCausalLM", text(num_key_value_heads=1, head_dim=16), {}),
    ("stablelm", "decoder", "stablelm", "StableLmForCausalLM", text(), {}),
    ("starcoder2", "decoder", "starcoder2", "Starcoder2ForCausalLM", text(num_key_value_heads=1), {}),
    ("cohere", "decoder", "cohere", "CohereForCausalLM", text(num_key_value_heads=1), {}),
    ("olmo2", "decoder", "olmo2", "Olmo2ForCausalLM", text(), {}),
    ("opt", "decoder", "opt", "OPTForCausalLM",
     dict(hidden_size=H, num_hidden_layers=L, ffn_dim=I, num_attention_heads=2, vocab_size=V,
          max_position_embeddings=P, word_embed_proj_dim=H), {}),
    ("biogpt", "decoder", "biogpt", "BioGptForCausalLM", text(), {}),
    ("xglm", "decoder", "xglm", "XGLMForCausalLM",
     dict(d_model=H, num_layers=L, attention_heads=2, ffn_dim=I, vocab_size=V,
          max_position_embeddings=P), {}),
    ("mpt", "decoder", "mpt", "MptForCausalLM",
     dict(d_model=H, n_heads=2, n_layers=L, vocab_size=V, max_seq_len=P, expansion_ratio=2), {}),
    ("rwkv", "decoder", "rwkv", "RwkvForCausalLM",
     dict(hidden_size=H, num_hidden_layers=L, vocab_size=V, attention_hidden_size=H,
          intermediate_size=I, context_length=P), {}),
    ("mamba", "decoder", "mamba", "MambaForCausalLM",
     dict(hidden_size=H, num_hidden_layers=L, vocab_size=V, state_size=8, expand=2,
          conv_kernel=4), {}),
    # mixture-of-experts decoders
    ("mixtral", "moe", "mixtral", "MixtralForCausalLM",
     text(num_key_value_heads=1, num_local_experts=4, intermediate_size=32, **MOE), {}),
    ("qwen2_moe", "moe", "qwen2_moe", "Qwen2MoeForCausalLM",
     text(num_key_value_heads=1, num_experts=4, moe_intermediate_size=32,
          shared_expert_intermediate_size=32, **MOE), {}),
    ("olmoe", "moe", "olmoe", "OlmoeForCausalLM",
     text(num_experts=4, intermediate_size=32, **MOE), {"save_original_format": False}),
    ("qwen3_moe", "moe", "qwen3_moe", "Qwen3MoeForCausalLM",
     text(num_key_value_heads=1, head_dim=16, num_experts=4, moe_intermediate_size=32, **MOE),
     {"save_original_format": False}),
    ("granitemoe", "moe", "granitemoe", "GraniteMoeForCausalLM",
     text(num_local_experts=4, intermediate_size=32, **MOE), {}),
    ("deepseek_v2", "moe", "deepseek_v2", "DeepseekV2ForCausalLM",
     text(n_routed_experts=4, n_shared_experts=1, moe_intermediate_size=32, first_k_dense_replace=1,
          kv_lora_rank=16, q_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8,
          n_group=1, topk_group=1, **MOE), {}),
    # seq2seq
    ("t5", "seq2seq", "t5", "T5ForConditionalGeneration",
     dict(d_model=H, d_kv=16, d_ff=I, num_layers=L, num_decoder_layers=L, num_heads=2,
          vocab_size=V, relative_attention_num_buckets=8), {}),
    ("mt5", "seq2seq", "mt5", "MT5ForConditionalGeneration",
     dict(d_model=H, d_kv=16, d_ff=I, num_layers=1, num_decoder_layers=1, num_heads=2,
          vocab_size=V, relative_attention_num_buckets=8, feed_forward_proj="gated-gelu"), {}),
    ("bart", "seq2seq", "bart", "BartForConditionalGeneration", seq2seq(), {}),
    ("mbart", "seq2seq", "mbart", "MBartForConditionalGeneration", seq2seq(), {}),
    ("marian", "seq2seq", "marian", "MarianMTModel", seq2seq(decoder_vocab_size=V), {}),
    ("pegasus", "seq2seq", "pegasus", "PegasusForConditionalGeneration", seq2seq(), {}),
    ("m2m_100", "seq2seq", "m2m_100", "M2M100ForConditionalGeneration", seq2seq(), {}),
    # vision
    ("vit", "vision", "vit", "ViTForImageClassification", vision(), {}),
    ("deit", "vision", "deit", "DeiTForImageClassificationWithTeacher", vision(), {}),
    ("beit", "vision", "beit", "BeitForImageClassification",
     vision(use_relative_position_bias=True, layer_scale_init_value=0.1), {}),
    ("dinov2", "vision", "dinov2", "Dinov2Model", vision(mlp_ratio=2), {}),
    ("convnext", "vision", "convnext", "ConvNextForImageClassification",
     dict(num_stages=2, hidden_sizes=[16, 32], depths=[1, 1], num_labels=3, image_size=32), {}),
    ("swin", "vision", "swin", "SwinForImageClassification",
     dict(embed_dim=16, depths=[1, 1], num_heads=[2, 2], image_size=32, patch_size=4,
          window_size=4, num_labels=3), {}),
    ("resnet", "vision", "resnet", "ResNetForImageClassification",
     dict(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic",
          num_labels=3), {}),
    ("segformer", "vision", "segformer", "SegformerForSemanticSegmentation",
     dict(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
          patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
          decoder_hidden_size=32, num_labels=3), {}),
    # audio
    ("wav2vec2", "audio", "wav2vec2", "Wav2Vec2ForCTC", audio(), {}),
    ("hubert", "audio", "hubert", "HubertForCTC", audio(), {}),
    ("wavlm", "audio", "wavlm", "WavLMForCTC", audio(num_buckets=16, max_bucket_distance=32), {}),
    ("data2vec-audio", "audio", "data2vec-audio", "Data2VecAudioForCTC",
     audio(num_conv_pos_embeddings=4), {}),
    ("ast", "audio", "audio-spectrogram-transformer", "ASTForAudioClassification",
     dict(hidden_size=H, num_hidden_layers=L, num_attention_heads=2, intermediate_size=I,
          patch_size=16, num_mel_bins=32, max_length=64, frequency_stride=16, time_stride=16,
          num_labels=3), {}),
    ("whisper", "audio-seq2seq", "whisper", "WhisperForConditionalGeneration",
     seq2seq(num_mel_bins=16, max_source_positions=32, max_target_positions=P,
             decoder_start_token_id=1, suppress_tokens=None, begin_suppress_tokens=None), {}),
    ("speech_to_text", "audio-seq2seq", "speech_to_text", "Speech2TextForConditionalGeneration",
     seq2seq(input_feat_per_channel=16, conv_channels=32, num_conv_layers=2,
             max_source_positions=64, max_target_positions=P), {}),
    # multimodal
    ("clip", "dual", "clip", "CLIPModel",
     dict(text_config=CLIP_TEXT, vision_config=CLIP_VISION, projection_dim=16), {}),
    ("siglip", "dual", "siglip", "SiglipModel",
     dict(text_config=CLIP_TEXT, vision_config=CLIP_VISION), {}),
    ("chinese_clip", "dual", "chinese_clip", "ChineseCLIPModel",
     dict(text_config=text(), vision_config=CLIP_VISION, projection_dim=16), {}),
    ("llava", "vlm", "llava", "LlavaForConditionalGeneration",
     dict(vision_config=dict(model_type="clip_vision_model", **CLIP_VISION), text_config=LLAMA_TEXT,
          image_token_id=70, image_token_index=70), {}),
    ("paligemma", "vlm", "paligemma", "PaliGemmaForConditionalGeneration",
     dict(vision_config=dict(model_type="siglip_vision_model", **CLIP_VISION),
          text_config=dict(model_type="gemma", **text(num_key_value_heads=1, head_dim=16)),
          image_token_id=70, image_token_index=70, projection_dim=H), {}),
    ("qwen2_vl", "vlm", "qwen2_vl", "Qwen2VLForConditionalGeneration",
     dict(text_config=text(num_key_value_heads=1, rope_parameters={
         "rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}),
          vision_config=dict(depth=L, embed_dim=H, hidden_size=H, num_heads=2, mlp_ratio=2,
                             patch_size=4, spatial_merge_size=2, temporal_patch_size=2),
          image_token_id=70, video_token_id=71, vision_start_token_id=72,
          vision_end_token_id=73), {}),
    ("blip", "vlm", "blip", "BlipForConditionalGeneration",
     dict(text_config=text(encoder_hidden_size=H), vision_config=CLIP_VISION, projection_dim=16), {}),
]

# Held out: never used to tune the rules; built with `make_zoo.py OUT holdout` to measure how the
# rules do on families they were not tuned on (README "Classification").
HOLDOUT = [
    ("camembert", "encoder", "camembert", "CamembertForMaskedLM", text(pad_token_id=1), {}),
    ("funnel", "encoder", "funnel", "FunnelForMaskedLM",
     dict(vocab_size=V, block_sizes=[1, 1], d_model=H, n_head=2, d_head=16, d_inner=I,
          num_decoder_layers=1), {}),
    ("longformer", "encoder", "longformer", "LongformerForMaskedLM",
     text(attention_window=8, pad_token_id=1), {}),
    ("big_bird", "encoder", "big_bird", "BigBirdForMaskedLM", text(attention_type="original_full"), {}),
    ("squeezebert", "encoder", "squeezebert", "SqueezeBertForMaskedLM",
     text(embedding_size=H, q_groups=1, k_groups=1, v_groups=1, post_attention_groups=1,
          intermediate_groups=1, output_groups=1), {}),
    ("nystromformer", "encoder", "nystromformer", "NystromformerForMaskedLM",
     text(num_landmarks=4, segment_means_seq_len=16, conv_kernel_size=3), {}),
    ("layoutlm", "encoder", "layoutlm", "LayoutLMForMaskedLM", text(max_2d_position_embeddings=64), {}),
    ("esm", "encoder", "esm", "EsmForMaskedLM",
     text(pad_token_id=1, mask_token_id=2, position_embedding_type="rotary"), {}),
    ("megatron-bert", "encoder", "megatron-bert", "MegatronBertForMaskedLM", text(), {}),
    ("roformer", "encoder", "roformer", "RoFormerForMaskedLM", text(embedding_size=H), {}),
    ("persimmon", "decoder", "persimmon", "PersimmonForCausalLM", text(), {}),
    ("olmo", "decoder", "olmo", "OlmoForCausalLM", text(pad_token_id=1), {}),
    ("glm", "decoder", "glm", "GlmForCausalLM", text(num_key_value_heads=1, head_dim=16, pad_token_id=0), {}),
    ("nemotron", "decoder", "nemotron", "NemotronForCausalLM", text(num_key_value_heads=1, head_dim=16), {}),
    ("granite", "decoder", "granite", "GraniteForCausalLM", text(), {}),
    ("helium", "decoder", "helium", "HeliumForCausalLM", text(head_dim=16, pad_token_id=0), {}),
    ("smollm3", "decoder", "smollm3", "SmolLM3ForCausalLM", text(pad_token_id=0), {}),
    ("gemma3_text", "decoder", "gemma3_text", "Gemma3ForCausalLM",
     text(num_key_value_heads=1, head_dim=16, pad_token_id=0), {}),
    ("openai-gpt", "decoder", "openai-gpt", "OpenAIGPTLMHeadModel",
     dict(n_embd=H, n_layer=L, n_head=2, n_positions=P, vocab_size=V), {}),
    ("ctrl", "decoder", "ctrl", "CTRLLMHeadModel",
     dict(n_embd=H, n_layer=L, n_head=2, n_positions=P, vocab_size=V, dff=I), {}),
    ("xlnet", "decoder", "xlnet", "XLNetLMHeadModel",
     dict(d_model=H, n_layer=L, n_head=2, d_inner=I, vocab_size=V), {}),
    ("recurrent_gemma", "decoder", "recurrent_gemma", "RecurrentGemmaForCausalLM",
     text(num_key_value_heads=1, lru_width=H, block_types=["recurrent", "attention"],
          attention_window_size=16, pad_token_id=0), {}),
    ("falcon_mamba", "decoder", "falcon_mamba", "FalconMambaForCausalLM",
     dict(hidden_size=H, num_hidden_layers=L, vocab_size=V, state_size=8, expand=2, conv_kernel=4), {}),
    ("gpt_oss", "moe", "gpt_oss", "GptOssForCausalLM",
     text(num_local_experts=4, head_dim=16, num_key_value_heads=1, sliding_window=16, **MOE), {}),
    ("jetmoe", "moe", "jetmoe", "JetMoeForCausalLM",
     dict(hidden_size=H, num_hidden_layers=L, num_key_value_heads=1, kv_channels=16,
          intermediate_size=I, num_local_experts=4, vocab_size=V, max_position_embeddings=P, **MOE), {}),
    ("dbrx", "moe", "dbrx", "DbrxForCausalLM",
     dict(d_model=H, n_heads=2, n_layers=L, max_seq_len=P, vocab_size=V,
          attn_config=dict(kv_n_heads=1),
          ffn_config=dict(ffn_hidden_size=32, moe_num_experts=4, moe_top_k=2)), {}),
    ("phimoe", "moe", "phimoe", "PhimoeForCausalLM",
     text(num_local_experts=4, num_key_value_heads=1, **MOE), {}),
    ("jamba", "moe", "jamba", "JambaForCausalLM",
     text(num_experts=4, attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2,
          expert_layer_offset=1, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2,
          num_key_value_heads=1, use_mamba_kernels=False, **MOE), {}),
    ("led", "seq2seq", "led", "LEDForConditionalGeneration",
     seq2seq(attention_window=[8, 8], max_encoder_position_embeddings=64,
             max_decoder_position_embeddings=P), {}),
    ("longt5", "seq2seq", "longt5", "LongT5ForConditionalGeneration",
     dict(d_model=H, d_kv=16, d_ff=I, num_layers=1, num_decoder_layers=1, num_heads=2,
          vocab_size=V, relative_attention_num_buckets=8, encoder_attention_type="transient-global",
          local_radius=4, global_block_size=4), {}),
    ("umt5", "seq2seq", "umt5", "UMT5ForConditionalGeneration",
     dict(d_model=H, d_kv=16, d_ff=I, num_layers=1, num_decoder_layers=1, num_heads=2,
          vocab_size=V, relative_attention_num_buckets=8), {}),
    ("switch_transformers", "seq2seq", "switch_transformers",
     "SwitchTransformersForConditionalGeneration",
     dict(d_model=H, d_kv=16, d_ff=I, num_layers=2, num_decoder_layers=2, num_heads=2,
          vocab_size=V, num_experts=4, expert_capacity=4, num_sparse_encoder_layers=1,
          num_sparse_decoder_layers=1, relative_attention_num_buckets=8), {}),
    ("blenderbot", "seq2seq", "blenderbot", "BlenderbotForConditionalGeneration", seq2seq(), {}),
    ("plbart", "seq2seq", "plbart", "PLBartForConditionalGeneration", seq2seq(), {}),
    ("fsmt", "seq2seq", "fsmt", "FSMTForConditionalGeneration",
     dict(d_model=H, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
          decoder_attention_heads=2, encoder_ffn_dim=I, decoder_ffn_dim=I, src_vocab_size=V,
          tgt_vocab_size=V, max_position_embeddings=P, langs=["en", "de"]), {}),
    ("prophetnet", "seq2seq", "prophetnet", "ProphetNetForConditionalGeneration",
     dict(hidden_size=H, encoder_ffn_dim=I, decoder_ffn_dim=I, num_encoder_layers=1,
          num_decoder_layers=1, num_encoder_attention_heads=2, num_decoder_attention_heads=2,
          vocab_size=V, max_position_embeddings=P, ngram=2, num_buckets=8,
          relative_max_distance=16), {}),
    ("bigbird_pegasus", "seq2seq", "bigbird_pegasus", "BigBirdPegasusForConditionalGeneration",
     seq2seq(attention_type="original_full"), {}),
    ("mobilevit", "vision", "mobilevit", "MobileViTForImageClassification",
     dict(image_size=32, patch_size=2, hidden_sizes=[16, 16, 16],
          neck_hidden_sizes=[8, 8, 16, 16, 16, 16, 32], num_attention_heads=2, num_labels=3), {}),
    ("efficientnet", "vision", "efficientnet", "EfficientNetForImageClassification",
     dict(image_size=32, width_coefficient=0.1, depth_coefficient=0.1, hidden_dim=64,
          num_labels=3), {}),
    ("regnet", "vision", "regnet", "RegNetForImageClassification",
     dict(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], groups_width=8, num_labels=3), {}),
    ("poolformer", "vision", "poolformer", "PoolFormerForImageClassification",
     dict(hidden_sizes=[16, 32], depths=[1, 1], num_encoder_blocks=2, patch_sizes=[7, 3],
          strides=[4, 2], padding=[2, 1], pool_size=3, num_labels=3), {}),
    ("convnextv2", "vision", "convnextv2", "ConvNextV2ForImageClassification",
     dict(num_stages=2, hidden_sizes=[16, 32], depths=[1, 1], num_labels=3), {}),
    ("swinv2", "vision", "swinv2", "Swinv2ForImageClassification",
     dict(embed_dim=16, depths=[1, 1], num_heads=[2, 2], image_size=32, patch_size=4,
          window_size=4, num_labels=3), {}),
    ("pvt", "vision", "pvt", "PvtForImageClassification",
     dict(num_encoder_blocks=2, depths=[1, 1], sequence_reduction_ratios=[2, 1],
          hidden_sizes=[16, 32], patch_sizes=[4, 2], strides=[4, 2], num_attention_heads=[1, 2],
          mlp_ratios=[2, 2], image_size=32, num_labels=3), {}),
    ("vit_mae", "vision-mae", "vit_mae", "ViTMAEForPreTraining",
     vision(decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
            decoder_intermediate_size=64), {}),
    ("yolos", "vision", "yolos", "YolosForObjectDetection",
     vision(num_detection_tokens=4, image_size=[32, 32]), {}),
    ("focalnet", "vision", "focalnet", "FocalNetForImageClassification",
     dict(embed_dim=16, depths=[1, 1], focal_levels=[1, 1], focal_windows=[3, 3], image_size=32,
          patch_size=4, num_labels=3), {}),
    ("bit", "vision", "bit", "BitForImageClassification",
     dict(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="preactivation",
          num_groups=4, num_labels=3), {}),
    ("unispeech", "audio", "unispeech", "UniSpeechForCTC", audio(), {}),
    ("unispeech-sat", "audio", "unispeech-sat", "UniSpeechSatForCTC", audio(), {}),
    ("sew", "audio", "sew", "SEWForCTC", audio(squeeze_factor=2), {}),
    ("sew-d", "audio", "sew-d", "SEWDForCTC",
     audio(squeeze_factor=2, position_buckets=8, max_position_embeddings=P), {}),
    ("wav2vec2-conformer", "audio", "wav2vec2-conformer", "Wav2Vec2ConformerForCTC",
     audio(position_embeddings_type="relative", conv_depthwise_kernel_size=3), {}),
    ("encodec", "audio-codec", "encodec", "EncodecModel",
     dict(audio_channels=1, num_filters=4, hidden_size=16, codebook_size=16, codebook_dim=16,
          num_residual_layers=1, upsampling_ratios=[2, 2], num_lstm_layers=1,
          target_bandwidths=[1.5]), {}),
    ("clap", "dual", "clap", "ClapModel",
     dict(text_config=text(pad_token_id=1),
          audio_config=dict(patch_embeds_hidden_size=16, depths=[1, 1], num_attention_heads=[2, 2],
                            hidden_size=32, spec_size=64, num_mel_bins=16, window_size=4,
                            patch_size=4, patch_stride=[4, 4], projection_dim=16),
          projection_dim=16), {}),
    ("owlvit", "dual", "owlvit", "OwlViTForObjectDetection",
     dict(text_config=CLIP_TEXT, vision_config=CLIP_VISION, projection_dim=16), {}),
    ("altclip", "dual", "altclip", "AltCLIPModel",
     dict(text_config=text(project_dim=16, pad_token_id=1), vision_config=CLIP_VISION,
          projection_dim=16), {}),
    ("siglip2", "dual", "siglip2", "Siglip2Model",
     dict(text_config=CLIP_TEXT, vision_config=dict(num_patches=16, **CLIP_VISION)), {}),
    ("git", "vlm", "git", "GitForCausalLM", dict(vision_config=CLIP_VISION, **text()), {}),
    ("blip-2", "vlm", "blip-2", "Blip2ForConditionalGeneration",
     dict(vision_config=CLIP_VISION,
          qformer_config=dict(hidden_size=H, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=I, encoder_hidden_size=H, vocab_size=V),
          text_config=dict(model_type="opt", hidden_size=H, num_hidden_layers=L, ffn_dim=I,
                           num_attention_heads=2, vocab_size=V, max_position_embeddings=P,
                           word_embed_proj_dim=H),
          num_query_tokens=4), {}),
    ("smolvlm", "vlm", "smolvlm", "SmolVLMForConditionalGeneration",
     dict(vision_config=dict(hidden_size=H, intermediate_size=I, num_hidden_layers=1,
                             num_attention_heads=2, image_size=32, patch_size=8),
          text_config=LLAMA_TEXT, scale_factor=2, image_token_id=70), {}),
    ("llava_next", "vlm", "llava_next", "LlavaNextForConditionalGeneration",
     dict(vision_config=dict(model_type="clip_vision_model", **CLIP_VISION), text_config=LLAMA_TEXT,
          image_grid_pinpoints=[[32, 32]], image_token_id=70, image_token_index=70), {}),
    ("gemma3", "vlm", "gemma3", "Gemma3ForConditionalGeneration",
     dict(text_config=dict(model_type="gemma3_text", **text(num_key_value_heads=1, head_dim=16, pad_token_id=0)),
          vision_config=dict(model_type="siglip_vision_model", **CLIP_VISION), mm_tokens_per_image=4,
          image_token_id=70, boi_token_index=71, eoi_token_index=72), {}),
    ("pix2struct", "vlm", "pix2struct", "Pix2StructForConditionalGeneration",
     dict(text_config=dict(hidden_size=H, d_kv=16, d_ff=I, num_layers=1, num_heads=2, vocab_size=V),
          vision_config=dict(hidden_size=H, d_kv=16, d_ff=I, num_hidden_layers=1,
                             num_attention_heads=2, patch_embed_hidden_size=48)), {}),
    ("vision-encoder-decoder", "vision-seq2seq", "vision-encoder-decoder", "VisionEncoderDecoderModel",
     dict(encoder=dict(model_type="vit", **vision()),
          decoder=dict(model_type="gpt2", n_embd=H, n_layer=L, n_head=2, n_positions=P,
                       vocab_size=V, add_cross_attention=True, is_decoder=True)), {}),
    ("speech-encoder-decoder", "audio-seq2seq", "speech-encoder-decoder", "SpeechEncoderDecoderModel",
     dict(encoder=dict(model_type="wav2vec2", **audio()),
          decoder=dict(model_type="bert", **text(add_cross_attention=True, is_decoder=True))), {}),
]

ONNX_EXPORTS = [("vit", "pixel_values", (1, 3, 32, 32)), ("bert", "input_ids", (1, 8))]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def owner_info(model, name):
    """The module owning state-dict entry `name`: class name and base classes up to Module."""
    mods = dict(model.named_modules())
    path = name.split(".parametrizations.")[0] if ".parametrizations." in name else name.rsplit(".", 1)[0] if "." in name else ""
    while path not in mods and "." in path:
        path = path.rsplit(".", 1)[0]
    mod = mods.get(path, model)
    mro = [c.__name__ for c in type(mod).__mro__ if c is not object]
    return path, type(mod).__name__, mro


def common_suffix(a, b):
    x, y = a.split("."), b.split(".")
    n = 0
    while n < min(len(x), len(y)) and x[-1 - n] == y[-1 - n]:
        n += 1
    return n


def contains(hay, needle):
    """Is `needle` (1-D int16 bits) a contiguous run inside `hay`?"""
    if needle.numel() > hay.numel() or needle.numel() == 0:
        return False
    idx = torch.nonzero(hay == needle[0]).flatten()
    n = needle.numel()
    for p in idx.tolist():
        if p + n <= hay.numel() and torch.equal(hay[p:p + n], needle):
            return True
    return False


def source_of(key, t, sd, params):
    """Which in-memory state-dict entry a saved tensor came from (save may rename or split)."""
    if key in sd:
        return key, "key"
    same = [k for k, v in sd.items() if v.shape == t.shape and v.dtype == t.dtype and torch.equal(v, t)]
    if same:
        return max(same, key=lambda k: (common_suffix(k, key), k in params)), "value"
    if t.dtype in (torch.float16, torch.float32, torch.bfloat16) and t.numel() > 1 and t.min() != t.max():
        needle = t.reshape(-1).view(torch.int16) if t.dtype != torch.float32 else t.reshape(-1).view(torch.int32)
        best = None
        for k, v in sd.items():
            if v.dtype != t.dtype or v.numel() <= t.numel():
                continue
            views = [v]
            if v.dim() >= 2:
                views.append(v.transpose(-1, -2).contiguous())
            for w in views:
                hay = w.reshape(-1).view(needle.dtype)
                if contains(hay, needle):
                    best = k
                    break
            if best:
                return best, "part"
    return None, "prefix"


def ground_truth(model, path):
    sd = {k: v.detach().cpu() for k, v in model.state_dict(keep_vars=False).items()}
    params = set(n for n, _ in model.named_parameters(remove_duplicate=False))
    gt = {}
    with safe_open(path, framework="pt") as f:
        for key in f.keys():
            t = f.get_tensor(key)
            src, via = source_of(key, t, sd, params)
            mpath, cls, mro = owner_info(model, src if src else key)
            leaf = (src or key).rsplit(".", 1)[-1]
            if ".parametrizations." in (src or key):
                leaf = (src or key).split(".parametrizations.")[1].split(".")[0]
            gt[key] = {"module": cls, "mro": mro, "param": leaf, "is_parameter": (src in params),
                       "via": via, "source": src, "dtype": str(t.dtype).replace("torch.", ""),
                       "shape": list(t.shape)}
    return gt


def save(model, d, opts):
    kw = dict(safe_serialization=True)
    kw.update(opts)
    for _ in range(3):
        try:
            model.save_pretrained(d, **kw)
            return
        except TypeError as e:  # an option this version does not know
            drop = [k for k in kw if k in str(e)]
            if not drop:
                raise
            for k in drop:
                kw.pop(k)
    model.save_pretrained(d)


def build(entry, root, seed):
    name, kind, mt, cls_name, kw, opts = entry
    torch.manual_seed(seed)
    cfg = transformers.AutoConfig.for_model(mt, **kw)
    cls = getattr(transformers, cls_name, None)
    model = cls(cfg) if cls is not None else transformers.AutoModel.from_config(cfg)
    model = model.eval().to(torch.float16)
    with torch.no_grad():  # make every float tensor unique: ground truth matches saved ones by value
        g = torch.Generator().manual_seed(seed)
        for _, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.is_floating_point() and t.numel():
                t.add_((torch.randn(t.shape, generator=g) * 0.02).to(t.dtype))
    d = os.path.join(root, name)
    save(model, d, opts)
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(d, f))
    if not os.path.exists(os.path.join(d, "model.safetensors")):
        raise RuntimeError("no single model.safetensors written: " + ", ".join(os.listdir(d)))
    gt = ground_truth(model, os.path.join(d, "model.safetensors"))
    attention = any("Attention" in type(m).__name__ for m in model.modules())
    meta = {"name": name, "kind": kind, "model_type": cfg.model_type, "class": type(model).__name__,
            "attention": attention, "tensors": gt}
    with open(os.path.join(d, "truth.json"), "w") as f:
        json.dump(meta, f, indent=0, sort_keys=True)
    return model, meta


def export_onnx(model, d, input_name, shape):
    os.makedirs(d, exist_ok=True)
    model = model.float().eval()
    x = torch.zeros(shape, dtype=torch.long) if input_name == "input_ids" else torch.randn(shape)
    path = os.path.join(d, "model.onnx")
    try:
        prog = torch.onnx.export(model, (), kwargs={input_name: x}, dynamo=True)
        prog.save(path)
    except Exception:
        torch.onnx.export(model, (), path, kwargs={input_name: x}, dynamo=False)
    files = os.listdir(d)
    if "model.onnx" not in files:
        raise RuntimeError("export wrote " + ", ".join(files))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "zoo-out"
    os.makedirs(out, exist_ok=True)
    which = sys.argv[2] if len(sys.argv) > 2 else "zoo"  # zoo, holdout, or names a,b,c
    entries = ZOO if which == "zoo" else HOLDOUT if which == "holdout" else \
        [e for e in ZOO + HOLDOUT if e[0] in which.split(",")]
    root = tempfile.mkdtemp(prefix="zoo")
    log = {"torch": torch.__version__, "transformers": transformers.__version__, "built": [],
           "failed": {}, "onnx": {}}
    print("torch", torch.__version__, "transformers", transformers.__version__, flush=True)
    signal.signal(signal.SIGALRM, _alarm)
    models = {}
    t0 = time.time()
    budget = float(os.environ.get("ZOO_BUDGET_S", "240"))  # stop early, still write the archive
    for i, e in enumerate(entries):
        if time.time() - t0 > budget:
            log["failed"][e[0]] = "skipped: time budget spent"
            continue
        t = time.time()
        signal.alarm(60)
        try:
            model, meta = build(e, root, 1000 + (ZOO + HOLDOUT).index(e))
            models[e[0]] = model
            log["built"].append({"name": e[0], "tensors": len(meta["tensors"]),
                                 "via": sorted(set(v["via"] for v in meta["tensors"].values()))})
            print("ok   %-16s %3d tensors %5.1fs" % (e[0], len(meta["tensors"]), time.time() - t), flush=True)
        except BaseException as ex:  # skip a family this version cannot build
            if isinstance(ex, KeyboardInterrupt):
                raise
            msg = "%s: %s" % (type(ex).__name__, str(ex).splitlines()[0][:300] if str(ex) else "")
            log["failed"][e[0]] = msg
            print("FAIL %-16s %s" % (e[0], msg), flush=True)
            shutil.rmtree(os.path.join(root, e[0]), ignore_errors=True)
        finally:
            signal.alarm(0)
    for name, inp, shape in ONNX_EXPORTS:
        if name not in models or time.time() - t0 > budget:
            continue
        signal.alarm(90)
        try:
            export_onnx(models[name], os.path.join(root, "onnx-" + name), inp, shape)
            log["onnx"][name] = "ok"
            print("onnx %s ok" % name, flush=True)
        except BaseException as ex:
            log["onnx"][name] = "%s: %s" % (type(ex).__name__, str(ex)[:300])
            print("onnx %s FAILED %s" % (name, log["onnx"][name]), flush=True)
            shutil.rmtree(os.path.join(root, "onnx-" + name), ignore_errors=True)
        finally:
            signal.alarm(0)
    log["seconds"] = round(time.time() - t0, 1)
    # deterministic archive: sorted names, zero times and owners
    tar_path = os.path.join(out, ("zoo" if which == "zoo" else "holdout" if which == "holdout"
                                  else "some") + ".tar.xz")
    with tarfile.open(tar_path, "w:xz", preset=9) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                full = os.path.join(dirpath, fn)
                info = tf.gettarinfo(full, "zoo/" + os.path.relpath(full, root))
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(full, "rb") as fh:
                    tf.addfile(info, fh)
    log["archive_bytes"] = os.path.getsize(tar_path)
    with open(tar_path.replace(".tar.xz", "-log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print("built %d, failed %d, archive %d bytes, %.0fs" % (len(log["built"]), len(log["failed"]),
          log["archive_bytes"], time.time() - t0), flush=True)


if __name__ == "__main__":
    main()
