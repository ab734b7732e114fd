// The per-thread cache of OpenSSL record buffers, driven through its hooks directly (the test
// process's OpenSSL has allocated already, so the hooks cannot be installed here; sluiced
// installs them, and the e2e suites check its log says so).
#include "agent/tls/record_buffer_cache.h"

#include <malloc.h>

#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace sluice {
namespace {

namespace cache = record_buffer_cache;

// OpenSSL 3.0's read and write record buffers, with SSL_MODE_RELEASE_BUFFERS.
constexpr std::size_t kReadBuffer = 16712;
constexpr std::size_t kWriteBuffer = 16584;

void drain_this_thread() {
    std::vector<void*> held;
    while (cache::cached_on_this_thread() > 0)
        held.push_back(cache::allocate(kReadBuffer, __FILE__, __LINE__));
    for (void* block : held) std::free(block);
}

TEST(RecordBufferCache, FreedRecordBufferServesTheNextRecordOnTheThread) {
    drain_this_thread();
    void* read_buffer = cache::allocate(kReadBuffer, __FILE__, __LINE__);
    ASSERT_NE(read_buffer, nullptr);
    EXPECT_GE(malloc_usable_size(read_buffer), kRecordBlockBytes);
    std::memset(read_buffer, 0xab, kReadBuffer);  // the whole request is usable
    cache::release(read_buffer, __FILE__, __LINE__);
    EXPECT_EQ(cache::cached_on_this_thread(), 1);

    // Either buffer kind takes the block back: one size class covers both.
    void* write_buffer = cache::allocate(kWriteBuffer, __FILE__, __LINE__);
    EXPECT_EQ(write_buffer, read_buffer);
    EXPECT_EQ(cache::cached_on_this_thread(), 0);
    cache::release(write_buffer, __FILE__, __LINE__);
    drain_this_thread();
}

TEST(RecordBufferCache, OtherSizesAreLeftToMalloc) {
    drain_this_thread();
    for (std::size_t bytes : {std::size_t{40}, std::size_t{4096}, kRecordBlockMinBytes - 1,
                              kRecordBlockBytes + 64, std::size_t{64} * 1024}) {
        void* block = cache::allocate(bytes, __FILE__, __LINE__);
        ASSERT_NE(block, nullptr) << bytes;
        std::memset(block, 0, bytes);
        cache::release(block, __FILE__, __LINE__);
        EXPECT_EQ(cache::cached_on_this_thread(), 0) << bytes << " bytes were cached";
    }
}

TEST(RecordBufferCache, HoldsAtMostItsLimitPerThread) {
    drain_this_thread();
    std::vector<void*> blocks;
    for (int i = 0; i < kRecordBlocksPerThread + 4; ++i)
        blocks.push_back(cache::allocate(kReadBuffer, __FILE__, __LINE__));
    for (void* block : blocks) cache::release(block, __FILE__, __LINE__);
    EXPECT_EQ(cache::cached_on_this_thread(), kRecordBlocksPerThread);
    drain_this_thread();
}

TEST(RecordBufferCache, EachThreadKeepsItsOwnBlocks) {
    drain_this_thread();
    void* block = cache::allocate(kReadBuffer, __FILE__, __LINE__);
    int cached_elsewhere = -1;
    std::thread other([&] {
        cache::release(block, __FILE__, __LINE__);  // freed on another thread: cached there
        cached_elsewhere = cache::cached_on_this_thread();
    });
    other.join();  // and freed for good when that thread ends
    EXPECT_EQ(cached_elsewhere, 1);
    EXPECT_EQ(cache::cached_on_this_thread(), 0);
}

TEST(RecordBufferCache, KeepsCryptoMallocContract) {
    EXPECT_EQ(cache::allocate(0, __FILE__, __LINE__), nullptr);
    cache::release(nullptr, __FILE__, __LINE__);

    char* grown = static_cast<char*>(cache::reallocate(nullptr, 10, __FILE__, __LINE__));
    ASSERT_NE(grown, nullptr);
    std::memcpy(grown, "123456789", 10);
    grown = static_cast<char*>(cache::reallocate(grown, kReadBuffer, __FILE__, __LINE__));
    ASSERT_NE(grown, nullptr);
    EXPECT_STREQ(grown, "123456789");
    EXPECT_EQ(cache::reallocate(grown, 0, __FILE__, __LINE__), nullptr);
}

}  // namespace
}  // namespace sluice
