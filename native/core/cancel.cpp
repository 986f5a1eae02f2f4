#include "core/cancel.hpp"

#include "core/error.hpp"

namespace alp {

namespace {
thread_local const std::atomic<bool>* t_flag = nullptr;
}  // namespace

CancelScope::CancelScope(const std::atomic<bool>& flag) noexcept : previous_(t_flag) { t_flag = &flag; }
CancelScope::~CancelScope() { t_flag = previous_; }

const std::atomic<bool>* current_cancel_flag() noexcept { return t_flag; }

void check_cancelled() {
  if (t_flag && t_flag->load(std::memory_order_relaxed)) fail(ErrorCode::Aborted, "plan aborted");
}

}  // namespace alp
