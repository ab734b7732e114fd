#include "agent/proxy/header_text.h"

namespace sluice {

namespace {

void append_version(std::string& out, unsigned version) {
    const char text[] = {'H', 'T',
                         'T', 'P',
                         '/', static_cast<char>('0' + version / 10),
                         '.', static_cast<char>('0' + version % 10)};
    out.append(text, sizeof text);
}

template <class Fields>
void append_fields(std::string& out, const Fields& fields) {
    for (const auto& field : fields) {
        out += field.name_string();
        out += ": ";
        out += field.value();
        out += "\r\n";
    }
    out += "\r\n";
}

}  // namespace

void append_header_text(std::string& out, const RequestHeader& header) {
    out += header.method_string();
    out += ' ';
    out += header.target();
    out += ' ';
    append_version(out, header.version());
    out += "\r\n";
    append_fields(out, header);
}

void append_header_text(std::string& out, const ResponseHeader& header) {
    append_version(out, header.version());
    const unsigned code = header.result_int();
    const char status[] = {' ', static_cast<char>('0' + code / 100),
                           static_cast<char>('0' + (code / 10) % 10),
                           static_cast<char>('0' + code % 10), ' '};
    out.append(status, sizeof status);
    out += header.reason();
    out += "\r\n";
    append_fields(out, header);
}

}  // namespace sluice
