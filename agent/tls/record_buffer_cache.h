#pragma once
// OpenSSL's record buffers, kept per thread between uses.
//
// With SSL_MODE_RELEASE_BUFFERS (both legs: an idle connection then holds no ~34 KiB of
// buffers) OpenSSL mallocs a ~16.5 KiB record buffer before each read and write and frees it
// after: four times per proxied request. Chunks that size are past every glibc fast path
// (tcache and fastbins stop at 1 KiB), so each pair costs a bin search, a split and a merge;
// perf put it at ~3% of the proxy's CPU per keep-alive request. These hooks hand a freed
// record-sized block to the next record on the same thread instead. A thread keeps at most
// kRecordBlocksPerThread blocks (~140 KiB), whatever the number of connections, so idle
// connections still hold nothing.
#include <cstddef>

namespace sluice {

// One size class covers OpenSSL 3's read (16712 bytes) and write (16584) buffers, with room
// for other builds' alignment and header room. 17400 + glibc's 8-byte header is a multiple of
// 16, so a block of this class has exactly this usable size.
inline constexpr std::size_t kRecordBlockMinBytes = 16 * 1024;
inline constexpr std::size_t kRecordBlockBytes = 17400;
inline constexpr int kRecordBlocksPerThread = 8;

// Routes OpenSSL's allocations through the cache. Call first in main, before anything touches
// OpenSSL: false (nothing changed, OpenSSL keeps malloc) if OpenSSL has allocated already.
bool install_record_buffer_cache();

// The hooks themselves, with CRYPTO_malloc/realloc/free's contract (size 0 gives nullptr).
namespace record_buffer_cache {
void* allocate(std::size_t bytes, const char* file, int line);
void* reallocate(void* block, std::size_t bytes, const char* file, int line);
void release(void* block, const char* file, int line);
// Blocks this thread holds for reuse.
int cached_on_this_thread();
}  // namespace record_buffer_cache

}  // namespace sluice
