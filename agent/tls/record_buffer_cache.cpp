#include "agent/tls/record_buffer_cache.h"

#include <malloc.h>

#include <array>
#include <cstdlib>

#include <openssl/crypto.h>

namespace sluice {

namespace {

struct BlockCache {
    std::array<void*, kRecordBlocksPerThread> blocks{};
    int count = 0;
    ~BlockCache();
};

// Trivially destructible, so still readable while (and after) the thread's cache is destroyed:
// OpenSSL's own thread-exit cleanup may free blocks after our destructor ran.
thread_local bool cache_gone = false;
thread_local BlockCache cache;

BlockCache::~BlockCache() {
    cache_gone = true;
    for (int i = 0; i < count; ++i) std::free(blocks[static_cast<std::size_t>(i)]);
    count = 0;
}

bool in_record_class(std::size_t bytes) {
    return bytes >= kRecordBlockMinBytes && bytes <= kRecordBlockBytes;
}

}  // namespace

namespace record_buffer_cache {

void* allocate(std::size_t bytes, const char*, int) {
    if (bytes == 0) return nullptr;
    if (!in_record_class(bytes)) return std::malloc(bytes);
    if (!cache_gone && cache.count > 0)
        return cache.blocks[static_cast<std::size_t>(--cache.count)];
    return std::malloc(kRecordBlockBytes);
}

void release(void* block, const char*, int) {
    if (block == nullptr) return;
    // The usable size says whether the block can serve any request of the class: ours are
    // exactly kRecordBlockBytes; a foreign block a little larger can serve too.
    if (!cache_gone && cache.count < kRecordBlocksPerThread) {
        const std::size_t usable = malloc_usable_size(block);
        if (usable >= kRecordBlockBytes && usable < kRecordBlockBytes + 64) {
            cache.blocks[static_cast<std::size_t>(cache.count++)] = block;
            return;
        }
    }
    std::free(block);
}

void* reallocate(void* block, std::size_t bytes, const char* file, int line) {
    if (block == nullptr) return allocate(bytes, file, line);
    if (bytes == 0) {
        release(block, file, line);
        return nullptr;
    }
    return std::realloc(block, bytes);
}

int cached_on_this_thread() { return cache_gone ? 0 : cache.count; }

}  // namespace record_buffer_cache

bool install_record_buffer_cache() {
    return CRYPTO_set_mem_functions(record_buffer_cache::allocate, record_buffer_cache::reallocate,
                                    record_buffer_cache::release) == 1;
}

}  // namespace sluice
