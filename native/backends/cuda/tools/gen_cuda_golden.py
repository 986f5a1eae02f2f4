"""Golden numbers for native/tests/cuda_*_test.cpp, from an independent NumPy/PyTorch formulation.

Run: /work/venv/py/bin/python native/backends/cuda/tools/gen_cuda_golden.py
Prints C++ initialisers that the tests embed.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

M64 = (1 << 64) - 1


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & M64
        return self.s >> 33

    def uniform(self):
        return np.float32((self.next() >> 7) / 8388608.0 - 1.0)


def philox(ctr, key):
    M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
    c = list(ctr)
    k0, k1 = key
    for _ in range(10):
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & 0xFFFFFFFF, p1 & 0xFFFFFFFF, ((p0 >> 32) ^ c[3] ^ k1) & 0xFFFFFFFF, p0 & 0xFFFFFFFF]
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return c


def normals(n, seed, offset):
    out = []
    for b in range((n + 3) // 4):
        r = philox([b & 0xFFFFFFFF, b >> 32, offset & 0xFFFFFFFF, offset >> 32], [seed & 0xFFFFFFFF, seed >> 32])
        u = [(x + 0.5) / 4294967296.0 for x in r]
        for p in range(2):
            rad = math.sqrt(-2.0 * math.log(u[2 * p]))
            ang = 2.0 * math.pi * u[2 * p + 1]
            out += [np.float32(rad * math.cos(ang)), np.float32(rad * math.sin(ang))]
    return out[:n]


def hexs(v):
    return ", ".join("0x%08x" % x for x in v)


def floats(v):
    return ", ".join("%.9gf" % float(x) for x in v)


print("// philox KAT")
for ctr, key in [([0] * 4, [0, 0]), ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2),
                 ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0])]:
    print(hexs(philox(ctr, key)))
print("// normals seed=0x1234567890abcdef offset=7, first 10")
print(floats(normals(10, 0x1234567890ABCDEF, 7)))

print("// logspace(0, 2, 10)")
print(floats(torch.logspace(0, math.log10(100.0), steps=10).tolist()))
# Fourier features exactly as the reference module computes them (fp32).
freqs = torch.logspace(0, math.log10(100.0), steps=10)[None, :]


def fourier(x):
    arg = x[..., None] * freqs * 2 * torch.pi
    return torch.cat([torch.sin(arg), torch.cos(arg)], -1) * math.sqrt(2)


g = Lcg(42)
x = torch.tensor([[g.uniform() * 4.0 for _ in range(2)] for _ in range(3)], dtype=torch.float32)
t = torch.tensor(0.3, dtype=torch.float32)
feats = torch.cat([fourier(x[:, 0]), fourier(x[:, 1]), fourier(t.expand(3))], -1)
print("// fourier rows=3 (x = 4 * Lcg(42).uniform()), t=0.3: row 2 all 60")
print(floats(feats[2].tolist()))

# Preprocessing, torchvision-style float path: antialiased bicubic, round, clamp, normalise, patchify.
def frames(n, h, w, seed):
    g = Lcg(seed)
    return np.array([g.next() & 0xFF for _ in range(n * h * w * 3)], dtype=np.uint8).reshape(n, h, w, 3)


n, ih, iw, oh, ow = 2, 45, 150, 32, 64
img = torch.from_numpy(frames(n, ih, iw, 9)).permute(0, 3, 1, 2).float()
res = F.interpolate(img, size=(oh, ow), mode="bicubic", antialias=True, align_corners=False)
res = res.clamp(0, 255).round()
res = (res - 127.5) / 127.5
p, m, T = 16, 2, 2
gh, gw = oh // p, ow // p
pt = res.reshape(n, 3, gh // m, m, p, gw // m, m, p).permute(0, 2, 5, 3, 6, 1, 4, 7)
pt = pt.unsqueeze(6).expand(-1, -1, -1, -1, -1, -1, T, -1, -1).reshape(n * gh * gw, 3 * T * p * p)
print("// preprocess float path 2x45x150 -> 32x64 (Lcg(9) bytes): sum, sum of squares, then rows 5 and 13, cols 0..7 and 700..707")
print("%.6f, %.6f" % (pt.double().sum().item(), (pt.double() ** 2).sum().item()))
for r in (5, 13):
    print(floats(pt[r, :8].tolist()), ",", floats(pt[r, 700:708].tolist()))
