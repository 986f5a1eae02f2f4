#pragma once
// Softmax attention with grouped KV heads (GQA), fp32, online softmax (never materialises the score
// matrix). Layouts:
//   q, out : [batch, n_q, n_heads, head_dim]
//   k, v   : [batch, n_kv_heads, kv_capacity, head_dim]  (head-major cache; batch stride may be 0 to share)
// Query i of a call sits at absolute position q_offset + i. Causal: it sees keys
// [0, min(kv_len, q_offset + i + 1)); full (non-causal, e.g. the action expert): keys [0, kv_len).
// A query that sees no key gets a zero row.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace alp::cuda {

struct AttentionShape {
  int batch = 1;
  int n_heads = 0, n_kv_heads = 0, head_dim = 0;  // n_heads % n_kv_heads == 0, head_dim <= 256
  int64_t kv_capacity = 0;                         // rows per (batch, kv head) in k/v
  int64_t kv_batch_stride = -1;                    // elements between batches in k/v; -1 = dense
};

// Flash-style prefill: a block of warps per (query group, kv head); each warp owns one (query, head)
// pair and all warps of a block share the kv head, so one shared-memory K/V tile serves them all.
void launch_attention_prefill(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape,
                              int64_t n_q, int64_t q_offset, int64_t kv_len, bool causal, float scale, cudaStream_t s);

// One query token per batch entry (decode): keys split across blocks (split-K), partial softmax
// states combined by a second kernel. `workspace` must hold attention_decode_workspace_bytes(shape,
// kv_len) bytes; size it once for the largest kv_len so the call is graph-capturable.
size_t attention_decode_workspace_bytes(const AttentionShape& shape, int64_t max_kv_len);
void launch_attention_decode(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape,
                             int64_t kv_len, float scale, void* workspace, size_t workspace_bytes, cudaStream_t s);

}  // namespace alp::cuda
