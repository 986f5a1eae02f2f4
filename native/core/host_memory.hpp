#pragma once
// How much more memory this process can take before the OS says no: the smallest of the kernel's
// MemAvailable, the cgroup's limit minus its usage, and RLIMIT_AS / RLIMIT_DATA minus what is already
// mapped. Backends compare their load-time estimate against it so a model that cannot fit fails at
// load with both numbers (ResourceExhausted) instead of minutes into the first plan.
#include <cstdint>
#include <string>

namespace alp {

struct HostMemory {
  uint64_t available = UINT64_MAX;  // bytes; UINT64_MAX when nothing could be read
  std::string limited_by;           // which limit is the smallest, e.g. "MemAvailable (/proc/meminfo)"
};

HostMemory available_host_memory();

// Throws Error(ResourceExhausted) "<what> needs about N GiB ... only M GiB ... (limited by ...)" when
// `needed` exceeds `available.available`.
void require_host_memory(uint64_t needed, const std::string& what, const HostMemory& available = available_host_memory());

// "12.3 GiB" / "512.0 MiB" for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace alp
