#!/usr/bin/env python3
"""The release's plan sizes as the manifest predicts them (weight_bytes = each graph's .onnx.data),
extrapolated from an export of the `realdims` checkpoint (the release's layer widths, few layers):

    alpamayo-trt make-checkpoint /tmp/rd --preset realdims
    alpamayo-trt build-engines --checkpoint /tmp/rd --out /tmp/e16 --precision fp16 --export-only
    python scripts/release-plan-sizes.py /tmp/e16

Each initializer's external-data length (padded to the exporter's 64-byte alignment) is grouped into
per-layer (x 36 backbone, x 36 expert), per-vision-block (x 27), per-DeepStack-merger (x 3),
vocabulary-sized (embed_tokens, lm_head: x 155,697 / 4,310 rows) and fixed tensors.
"""
import json
import os
import re
import sys
from collections import defaultdict

import onnx

RELEASE = {"layers": 36, "vision_blocks": 27, "deepstack": 3, "vocab": 155697}


def graph_bytes(path):
    m = onnx.load(path, load_external_data=False)
    groups, members = defaultdict(int), defaultdict(set)
    for t in m.graph.initializer:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        length = int({e.key: e.value for e in t.external_data}["length"])
        padded = (length + 63) // 64 * 64
        for key, pattern in (("layer", r"(?:language_model\.layers|expert\.layers)\.(\d+)\."),
                             ("vblock", r"visual\.blocks\.(\d+)\."), ("deepstack", r"deepstack_merger_list\.(\d+)\.")):
            if hit := re.search(pattern, t.name):
                members[key].add(hit.group(1))
                break
        else:
            key = "vocab" if ("embed_tokens" in t.name or "lm_head" in t.name) else "fixed"
        groups[key] += padded
    return groups, {k: len(v) for k, v in members.items()}


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    vocab = manifest["model"]["vocab_size"]
    sizes = {}
    for g in ("vision", "llm", "expert_step"):
        groups, n = graph_bytes(os.path.join(d, g + ".onnx"))
        per = lambda k: groups[k] / max(1, n.get(k, 0))  # noqa: E731
        b = groups["fixed"] + groups["vocab"] * RELEASE["vocab"] / vocab
        b += per("vblock") * RELEASE["vision_blocks"] + per("deepstack") * RELEASE["deepstack"] if g == "vision" else per("layer") * RELEASE["layers"]
        sizes[g] = b
    precision = manifest["engines"]["llm"]["precision"]
    print(f"{precision}: " + ", ".join(f"{g} {b / 1e9:.3f} GB" for g, b in sizes.items()) + f", total {sum(sizes.values()) / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
