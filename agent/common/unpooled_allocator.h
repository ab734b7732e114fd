// An allocator for the handlers of waits that last as long as a connection is idle.
//
// Asio allocates a handler's operation from a small per-thread cache of freed blocks, and
// reuses any cached block big enough: an idle connection's socket wait or deadline timer wait,
// ~130 bytes each, often sits in a 170-250 byte block an accept or a coroutine left behind,
// for as long as the connection stays idle (heaptrack, docs/benchmarks.md, memory per idle
// connection). A handler that names this allocator (allocator_type / get_allocator()) gets an
// operation of its own size from operator new instead. Short-lived operations should keep the
// cache: it saves a malloc per operation.
#pragma once

#include <cstddef>
#include <new>

namespace sluice {

template <class T>
struct UnpooledAllocator {
    using value_type = T;

    UnpooledAllocator() noexcept = default;
    template <class U>
    UnpooledAllocator(const UnpooledAllocator<U>&) noexcept {}

    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }

    template <class U>
    bool operator==(const UnpooledAllocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace sluice
