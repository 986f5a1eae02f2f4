#pragma once
// Cooperative cancellation of the work running on the current thread. A plan installs its abort flag
// for its duration (CancelScope on the planner's worker thread); long loops deep in the model (vision
// blocks, decoder layers, GEMM row blocks) call check_cancelled() between units of work. A thread-local
// scope instead of a callback parameter keeps every Executor/Ops signature unchanged and lets the
// same loops serve the exporter, which installs no scope (check_cancelled() is then a no-op).
#include <atomic>

namespace alp {

class CancelScope {
 public:
  explicit CancelScope(const std::atomic<bool>& flag) noexcept;
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

// The flag of the innermost scope on this thread, or null outside any scope. Thread pools hand it to
// their workers so a long parallel kernel can stop between blocks.
const std::atomic<bool>* current_cancel_flag() noexcept;

// Throws Error(Aborted) when the innermost scope's flag is set (only call where unwinding is safe).
void check_cancelled();

}  // namespace alp
