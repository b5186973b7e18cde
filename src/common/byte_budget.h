#pragma once
// ByteBudget: bytes that many threads reserve against one limit. A reservation is released
// when its owner is destroyed (RAII), so the count is always what is held right now, wherever
// the holder went.
//
// The server's use: the writes a node accepted but has not yet logged (--pending-write-limit).
// Each cluster::Proposal carries its Reservation, so its bytes count until the proposal is
// destroyed — applied, handed to Raft, or refused — on whichever thread that happens.
//
// Threading: every ByteBudget method is thread-safe (atomics, no lock). A Reservation belongs
// to one thread at a time and may be released on any. The budget must outlive them.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace flin {

class ByteBudget {
 public:
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& o) noexcept
        : budget_(std::exchange(o.budget_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    Reservation& operator=(Reservation&& o) noexcept {
      if (this != &o) {
        Release();
        budget_ = std::exchange(o.budget_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
      }
      return *this;
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { Release(); }

    size_t bytes() const { return bytes_; }
    // Gives the bytes back now (idempotent).
    void Release() {
      if (budget_ != nullptr) budget_->used_.fetch_sub(bytes_, std::memory_order_acq_rel);
      budget_ = nullptr;
      bytes_ = 0;
    }

   private:
    friend class ByteBudget;
    ByteBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  ByteBudget() = default;
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // Reserves `bytes` into *out (replacing what it held) unless that would take the total over
  // `limit` while something else is reserved: a single request larger than the limit still
  // goes, alone, so no request is refused forever. On refusal returns false, counts it, and
  // leaves *out empty.
  bool TryReserve(size_t bytes, size_t limit, Reservation* out);

  size_t used() const { return used_.load(std::memory_order_acquire); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  std::atomic<size_t> used_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace flin
