/* jemalloc's options for the control-plane daemons that link it (JEMALLOC_BINS in the
 * Makefile, which also makes the linker pull this file in with -u malloc_conf; other
 * binaries use glibc's malloc and never see it).
 *
 * jemalloc reads the global `malloc_conf` string at its first allocation, before
 * MALLOC_CONF from the environment, which can still override any option here.
 *
 *  - narenas:1: one arena for all threads.  The daemons have dozens of mostly idle
 *    threads (watch connections, workers); an arena per CPU multiplied resident memory
 *    (the apiserver held 298 MB with 10,000 pods stored instead of 50 MB) for no gain
 *    in the measured throughput, since each thread's cache still serves the hot path
 *    without a lock.
 *  - dirty_decay_ms:0, muzzy_decay_ms:0: freed pages go back to the kernel at once,
 *    so RSS follows the live data (the apiserver's 10,000-pod list, the store's
 *    compacted revisions) rather than the last peak. */
const char *malloc_conf = "narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0";
