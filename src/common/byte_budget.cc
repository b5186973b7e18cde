#include "common/byte_budget.h"

namespace flin {

bool ByteBudget::TryReserve(size_t bytes, size_t limit, Reservation* out) {
  out->Release();
  size_t cur = used_.load(std::memory_order_acquire);
  do {
    if (cur != 0 && (cur > limit || bytes > limit - cur)) {
      refusals_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_acq_rel));
  const size_t now = cur + bytes;
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  out->budget_ = this;
  out->bytes_ = bytes;
  return true;
}

}  // namespace flin
