#pragma once
// glibc malloc settings for a server that moves a lot of memory through its heaps.
//
// glibc gives freed heap memory back to the kernel and takes it back a 4 KiB page fault at a
// time. Where a page fault is expensive (16 µs each on the paravirtualized development VM,
// against ~0.2 µs on bare metal) that was 6% of the machine under replicated SET and most of
// the cost of a multi-MiB value. Two glibc tunables fix it: glibc.malloc.hugetlb=1 (heaps in
// transparent huge pages, madvised) and glibc.malloc.top_pad (heaps grow, and stay, 64 MiB
// ahead), measured: page faults of a 3-node cluster under SET 45 K -> 150 per 7 s, server CPU
// per SET -20% (docs/BENCHMARKS.md, session 7). Setting top_pad also turns off glibc's
// dynamic mmap threshold, which left every allocation of 128 KiB or more (a large value and
// each copy of it) to its own mmap: faulted in page by page, unmapped when freed. So
// glibc.malloc.mmap_threshold is set too, to its maximum (32 MiB): such blocks come from the
// heaps and are reused (session 11: 256 KiB SET/GET went from ~140 K page faults a second to
// none, +20-40%). The price: with top_pad as large as a thread's heap, glibc gives no freed
// memory back, so the resident size stays at each arena's peak (after a burst of large
// values, too). Tunables are read only when a process starts, so the server sets them and
// executes itself again, once, before it starts any thread.
//
// Left alone when GLIBC_TUNABLES already names any of these tunables (the operator's choice),
// or FLIN_MALLOC_TUNED is set (set by the re-execution itself; set it to opt out).

namespace flin::server {

// Returns only if nothing was to be done or the re-execution failed (the server then runs
// with glibc's defaults). Main thread, before any other thread exists.
void ReexecWithMallocTunables(char** argv);

}  // namespace flin::server
