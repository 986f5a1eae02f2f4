# Golden numbers for model_network_test.cpp from transformers' Qwen3-VL classes and the official
# PerWaypointActionInProjV2 (read from /work/ref/alpamayo), with the formula weights of
# model_test_weights.hpp and the tiny preset. Run: /work/venv/py/bin/python native/tests/model_golden_gen.py
import math, sys
import numpy as np
import torch
sys.path.insert(0, "/work/ref/alpamayo/src")
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, AutoModel
import importlib.util
spec = importlib.util.spec_from_file_location("aip", "/work/ref/alpamayo/src/alpamayo_r1/models/action_in_proj.py")
aip = importlib.util.module_from_spec(spec); spec.loader.exec_module(aip)

torch.set_grad_enabled(False)
VOCAB = 256 + 26 + 4000 + 28
IMG, VS, VE = 256 + 12, 256 + 9, 256 + 10
cfg = Qwen3VLConfig(
    text_config=dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6,
                     rope_parameters=dict(rope_type="default", rope_theta=5000000.0, mrope_section=[4, 2, 2],
                                          mrope_interleaved=True)),
    vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
                       temporal_patch_size=2, spatial_merge_size=2, out_hidden_size=64,
                       num_position_embeddings=64, deepstack_visual_indexes=[0, 1]),
    image_token_id=IMG, video_token_id=IMG + 1, vision_start_token_id=VS, vision_end_token_id=VE)
cfg._attn_implementation = "eager"
vlm = Qwen3VLForConditionalGeneration(cfg).eval()
ecfg = Qwen3VLConfig(**cfg.to_dict()).text_config
ecfg.hidden_size, ecfg.intermediate_size, ecfg.num_attention_heads, ecfg.head_dim = 32, 64, 2, 16
ecfg._attn_implementation = "eager"
expert = AutoModel.from_config(ecfg).eval()
del expert.embed_tokens
in_proj = aip.PerWaypointActionInProjV2(in_dims=[64, 2], out_dim=32, num_enc_layers=2, hidden_size=32,
                                        max_freq=100.0, num_fourier_feats=20).eval()
out_proj = torch.nn.Linear(32, 2)

def formula(name, shape):
    h = sum(name.encode()) % 9973
    n = int(np.prod(shape))
    s = np.sin(0.37 * np.arange(n, dtype=np.float64) + 0.011 * h)
    if name.endswith(".weight") and len(shape) == 1: v = 1.0 + 0.1 * s
    elif name.endswith(".bias"): v = 0.02 * s
    else: v = 0.1 * s
    return torch.from_numpy(v.astype(np.float32).reshape(shape))

def load(module, prefix):
    for k, p in module.state_dict().items():
        if k.endswith("freqs"): continue  # Fourier buffers: recomputed from the config, not weights
        if k.startswith("lm_head"): name = "vlm." + k
        else: name = prefix + k
        p.copy_(formula(name, tuple(p.shape)))
load(vlm, "vlm.")
load(expert, "expert.")
load(in_proj, "action_in_proj.")
load(out_proj, "action_out_proj.")

# One 64x128 image: grid (1, 4, 8) -> 32 patches, 8 tokens.
patches = torch.from_numpy(np.sin(0.013 * np.arange(32 * 1536)).astype(np.float32).reshape(32, 1536))
grid = torch.tensor([[1, 4, 8]])
ids = [257, 10, 20, VS] + [IMG] * 8 + [VE, 30, 40, 50]
inp = torch.tensor([ids])
mm = (inp == IMG).int()
out = vlm(input_ids=inp, pixel_values=patches, image_grid_thw=grid, mm_token_type_ids=mm, use_cache=True)
logits = out.logits[0, -1]
cache = out.past_key_values
rope_delta = int(vlm.model.rope_deltas[0, 0])
vis = vlm.model.get_image_features(patches, grid)
def show(tag, t, idx):
    print(tag, " ".join(f"{float(t[i]):.7g}" for i in idx))
print("n", len(ids), "rope_delta", rope_delta)
show("vision_embed[0,:4]", vis.pooler_output[0][0], range(4))
show("vision_embed[7,60:64]", vis.pooler_output[0][7], range(60, 64))
show("deepstack1[3,:4]", vis.deepstack_features[1][0][3], range(4))
show("prefill_logits", logits, [0, 1, 257, 4309])
print("prefill_argmax", int(logits.argmax()))
out2 = vlm(input_ids=torch.tensor([[77]]), past_key_values=cache, use_cache=True)
l2 = out2.logits[0, -1]
show("decode_logits", l2, [0, 1, 257, 4309])
print("decode_argmax", int(l2.argmax()))
cache = out2.past_key_values
n_cache = cache.get_seq_length()
offset = n_cache  # the whole cache is the prefix here
pos = (torch.arange(64) + rope_delta + offset).view(1, 1, 64).expand(3, 1, 64)
mask = torch.zeros(1, 1, 64, n_cache + 64)
def velocity(x, t):
    e = in_proj(x, t)
    o = expert(inputs_embeds=e, position_ids=pos, past_key_values=cache, attention_mask=mask, use_cache=True, is_causal=False)
    cache.crop(n_cache)
    return out_proj(o.last_hidden_state).view(1, 64, 2)
x = torch.from_numpy((0.5 * np.sin(np.arange(128))).astype(np.float32)).view(1, 64, 2)
v = velocity(x, torch.full((1, 1, 1), 0.3))
show("velocity", v.reshape(-1), [0, 1, 64, 127])
noise = torch.from_numpy(np.cos(np.arange(128)).astype(np.float32)).view(1, 64, 2)
# Two Euler steps only: the Fourier features (up to 100 Hz) of x amplify 1e-6 differences by ~600x
# per step, so a 10-step trajectory is not a stable golden; the loop itself is pinned in C++.
ts = torch.linspace(0.0, 1.0, 3)
xx = noise
for i in range(2):
    xx = xx + (ts[i + 1] - ts[i]) * velocity(xx, ts[i].view(1, 1, 1))
show("denoised", xx.reshape(-1), [0, 1, 64, 127])
