// Size limits and deadlines of the fake OpenAI upstream, in one place (STYLE 5a).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sluice::fake_openai {

// Long contexts and big tool schemas make request headers and JSON bodies larger than
// Beast's defaults; the fake must never be the component that rejects a real client.
inline constexpr std::size_t kMaxHeaderBytes = 1024 * 1024;
inline constexpr std::uint64_t kMaxJsonBodyBytes = 64ull * 1024 * 1024;
// Uploads are counted while streaming; only this much is kept (for --record).
inline constexpr std::size_t kMaxRecordedBodyBytes = 1024 * 1024;
inline constexpr std::size_t kBodyReadChunkBytes = 64 * 1024;
inline constexpr std::size_t kMaxMultipartHeaderBytes = 16 * 1024;
inline constexpr std::size_t kMaxMultipartFieldBytes = 4 * 1024;
// A streamed delta carries at most this many bytes of text (split on words first).
inline constexpr std::size_t kMaxDeltaBytes = 8;
inline constexpr std::size_t kMaxEmbeddingDimensions = 4096;

inline constexpr std::chrono::seconds kHandshakeTimeout{30};
inline constexpr std::chrono::seconds kIdleTimeout{120};
inline constexpr std::chrono::seconds kReadTimeout{300};
inline constexpr std::chrono::seconds kWriteTimeout{300};
inline constexpr std::chrono::seconds kShutdownTimeout{2};

}  // namespace sluice::fake_openai
