// A seqlock for records with a single writer and any number of readers, in shared memory.
// The writer makes `seq` odd, writes the fields (relaxed atomics), then makes it even
// again (release). A reader copies the fields between two reads of `seq` and retries if
// they differ or are odd: it never blocks the writer, and a writer that dies mid-write
// leaves `seq` odd, which the supervisor (the next writer of that slot) repairs.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "shm/layout.h"

namespace opfleet::shm {

inline void seq_write_begin(std::atomic<std::uint64_t>& seq) {
  std::uint64_t s = seq.load(std::memory_order_relaxed);
  if ((s & 1) == 0) ++s;  // a dead writer may have left it odd already
  seq.store(s, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
}

inline void seq_write_end(std::atomic<std::uint64_t>& seq) {
  std::uint64_t s = seq.load(std::memory_order_relaxed);
  seq.store(s + 1, std::memory_order_release);
}

// Runs `read` until it saw a stable, even sequence. Returns false if the record stayed
// under write for `max_spins` tries (a writer died mid-write).
template <class F>
bool seq_read(const std::atomic<std::uint64_t>& seq, F&& read, int max_spins = 1000) {
  for (int i = 0; i < max_spins; ++i) {
    std::uint64_t before = seq.load(std::memory_order_acquire);
    if (before & 1) continue;
    read();
    std::atomic_thread_fence(std::memory_order_acquire);
    std::uint64_t after = seq.load(std::memory_order_relaxed);
    if (before == after) return true;
  }
  return false;
}

template <std::size_t W>
void store_text(AtomicText<W>& dst, std::string_view src) {
  std::size_t n = src.size() < AtomicText<W>::kCapacity ? src.size() : AtomicText<W>::kCapacity;
  for (std::size_t w = 0; w < W; ++w) {
    std::uint64_t word = 0;
    std::size_t off = w * 8;
    if (off < n) std::memcpy(&word, src.data() + off, (n - off) < 8 ? (n - off) : 8);
    dst.words[w].store(word, std::memory_order_relaxed);
  }
}

template <std::size_t W>
std::string load_text(const AtomicText<W>& src) {
  char buf[W * 8 + 1];
  for (std::size_t w = 0; w < W; ++w) {
    std::uint64_t word = src.words[w].load(std::memory_order_relaxed);
    std::memcpy(buf + w * 8, &word, 8);
  }
  buf[W * 8] = '\0';
  return std::string(buf, strnlen(buf, W * 8));
}

}  // namespace opfleet::shm
