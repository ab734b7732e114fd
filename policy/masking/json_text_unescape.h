// Tool-call arguments are JSON text carried inside a JSON string: a client that parses them
// decodes `a\u0040b.com` to "a@b.com", so the recognizers must see '@' too (issue 24). This
// rewrites the escapes whose character needs none — `\uXXXX` of a printable character or a
// surrogate pair, and `\/` — to the character itself. `\"`, `\\`, `\n`-style escapes, control
// characters and lone surrogates keep their escape, so the text means the same JSON to the
// client; what changes is only how it is spelled.
#pragma once

#include <string>
#include <string_view>

namespace sluice::masking {

class JsonTextUnescaper {
public:
    // Appends `in`, unescaped, to `out`; an escape cut at the end of `in` (at most 11 bytes) is
    // held until the next call.
    void feed(std::string_view in, std::string& out);
    // End of the text: appends whatever is held, as it was.
    void finish(std::string& out);

private:
    std::string held_;
    std::string work_;
};

std::string unescape_json_text(std::string_view text);

}  // namespace sluice::masking
