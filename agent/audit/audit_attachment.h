// Bytes stored outside the audit that an audit line vouches for: a session recording, whose
// hash the line names (docs/recording.md). The proxy hands the line and its attachment to the
// writer together; the writer thread has the store write the attachments of a batch (one write)
// before it writes the batch's lines, so a line never names bytes that are not on disk, and a
// recorded request costs the same one hand-off to the writer as any other (docs/benchmarks.md,
// "Session recording").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

class AuditAttachmentStore {
public:
    virtual ~AuditAttachmentStore() = default;
    // On the writer thread: stores `count` attachments, concatenated in the order of their
    // lines. Returns "" or what failed; then none of them is stored, and each of their lines is
    // written by line_without_recording() instead.
    virtual std::string store(std::string_view attachments, std::size_t count) = 0;
};

// A line the writer's thread makes itself, in the batch it writes it with: a session recording is
// built, hashed and compressed there, with warm caches and one context, rather than on each
// proxy thread (docs/benchmarks.md, "Session recording: history").
class AuditDeferredLine {
public:
    virtual ~AuditDeferredLine() = default;
    // On the writer thread: the whole line ('\n'-terminated) into `line` and the attachment it
    // names into `attachment` ("" for none); both are empty on entry. Must not throw.
    virtual void make(std::string& line, std::string& attachment) = 0;
};

// `line` (an audit line with "recording":{…,"session":…}) with its recording replaced by
// {"error": error, "session": …}: the request stays audited, saying why it was not recorded.
std::string line_without_recording(std::string_view line, std::string_view error);

}  // namespace sluice
