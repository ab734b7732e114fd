#include "agent/proxy/request_admission.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/proxy/request_target.h"

namespace sluice {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kHost = "api.openai.com";

std::optional<CanonicalTarget> canonical(std::string_view target) {
    auto result = canonicalize_target(target, kHost, 443);
    if (auto* ok = std::get_if<CanonicalTarget>(&result)) return *ok;
    return std::nullopt;
}

std::optional<TargetProblem> problem_of(std::string_view target) {
    auto result = canonicalize_target(target, kHost, 443);
    if (auto* problem = std::get_if<TargetProblem>(&result)) return *problem;
    return std::nullopt;
}

TEST(RequestTarget, OriginFormInCanonicalFormPassesAsIs) {
    for (const char* target :
         {"/v1/chat/completions", "/v1/files/file-AbC123/content", "/",
          "/v1/models?limit=2&order=desc", "/v1/responses?include[]=x%20y", "/v1/a:b@c"}) {
        auto result = canonical(target);
        ASSERT_TRUE(result) << target;
        EXPECT_EQ(result->origin_form, target);
    }
    EXPECT_EQ(canonical("/v1/models?limit=2")->path(), "/v1/models");
}

TEST(RequestTarget, AbsoluteFormNamingTheInterceptedHostBecomesOriginForm) {
    for (const char* target :
         {"https://api.openai.com/v1/embeddings", "HTTPS://API.OPENAI.COM/v1/embeddings",
          "https://api.openai.com./v1/embeddings", "https://api.openai.com:443/v1/embeddings",
          "http://api.openai.com/v1/embeddings"}) {
        auto result = canonical(target);
        ASSERT_TRUE(result) << target;
        EXPECT_EQ(result->origin_form, "/v1/embeddings") << target;
    }
    EXPECT_EQ(canonical("https://api.openai.com")->origin_form, "/");
    EXPECT_EQ(canonical("https://api.openai.com?x=1")->origin_form, "/?x=1");
}

TEST(RequestTarget, AbsoluteFormNamingAnotherAuthorityIsRefused) {
    for (const char* target :
         {"https://evil.example/v1/chat/completions", "https://api.openai.com:8443/v1/x",
          "https://api.openai.com.evil.example/v1/x", "https://user@api.openai.com/v1/x",
          "https://api.openai.com@evil.example/v1/x", "https:///v1/x", "https://:443/v1/x",
          "https://api.openai.com:/v1/x", "https://api.openai.co/v1/x"})
        EXPECT_EQ(problem_of(target), TargetProblem::other_authority) << target;
}

TEST(RequestTarget, NonCanonicalPathsAreRefusedWithTheirReason) {
    const std::vector<std::pair<std::string, TargetProblem>> cases = {
        {"", TargetProblem::empty},
        {"*", TargetProblem::not_origin_form},
        {"api.openai.com:443", TargetProblem::not_origin_form},
        {"v1/embeddings", TargetProblem::not_origin_form},
        {"/v1/embeddings#x", TargetProblem::fragment},
        {"//v1/embeddings", TargetProblem::empty_segment},
        {"/v1//embeddings", TargetProblem::empty_segment},
        {"/v1/embeddings/", TargetProblem::empty_segment},
        {"/v1/./embeddings", TargetProblem::dot_segment},
        {"/v1/x/../embeddings", TargetProblem::dot_segment},
        {"/v1/embeddings/..", TargetProblem::dot_segment},
        {"/v1/%65mbeddings", TargetProblem::percent_encoding},
        {"/v1/%2e%2e/embeddings", TargetProblem::percent_encoding},
        {"/v1%2Fembeddings", TargetProblem::percent_encoding},
        {"/v1\\embeddings", TargetProblem::forbidden_character},
        {"/v1/embeddings;x=1", TargetProblem::forbidden_character},
        {"/v1/emb\"eddings", TargetProblem::forbidden_character},
        {"/v1/embeddings?x=%zz", TargetProblem::forbidden_character},
        {"/v1/embeddings?x=%4", TargetProblem::forbidden_character},
        {"/v1/\xc3\xa9", TargetProblem::forbidden_character},
    };
    for (const auto& [target, expected] : cases) EXPECT_EQ(problem_of(target), expected) << target;
}

// What a lenient upstream might make of a path: percent-decoded, cut at ';', backslashes as
// slashes, empty and dot segments resolved away, lower case. A canonical path must be a fixed
// point of all of it (but case, which the policy matches without regard to).
std::string lenient_upstream_view(std::string path) {
    std::string decoded;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '%' && i + 2 < path.size() &&
            std::isxdigit(static_cast<unsigned char>(path[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
            decoded.push_back(static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            decoded.push_back(path[i] == '\\' ? '/' : path[i]);
        }
    }
    std::vector<std::string> segments;
    std::size_t start = 0;
    while (start <= decoded.size()) {
        std::size_t end = decoded.find('/', start);
        if (end == std::string::npos) end = decoded.size();
        std::string segment = decoded.substr(start, end - start);
        segment = segment.substr(0, segment.find(';'));
        if (segment == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        start = end + 1;
    }
    std::string out;
    for (const auto& segment : segments) out += "/" + segment;
    if (out.empty()) out = "/";
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Many spellings of a denied endpoint: each is refused, or admitted as the one path a policy
// rule for "/v1/embeddings" sees (so no spelling reaches the upstream unmatched).
TEST(RequestTarget, NoSpellingOfAnEndpointReachesUpstreamAsAnotherPath) {
    std::mt19937 random(20261207);
    const std::vector<std::string> prefixes = {"",
                                               "https://api.openai.com",
                                               "https://API.openai.com.",
                                               "https://api.openai.com:443",
                                               "http://api.openai.com",
                                               "https://evil.example",
                                               "https://api.openai.com@evil.example",
                                               "//api.openai.com"};
    auto mutate_segment = [&](std::string segment) {
        std::string out;
        for (char c : segment) {
            switch (random() % 12) {
                case 0:
                    out += "%" + std::string(1, "0123456789ABCDEF"[(c >> 4) & 0xf]) +
                           "0123456789abcdef"[c & 0xf];
                    break;
                case 1:
                    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
                    break;
                default:
                    out.push_back(c);
            }
        }
        return out;
    };
    std::size_t admitted = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string path;
        for (const std::string segment : {"v1", "embeddings"}) {
            switch (random() % 10) {
                case 0:
                    path += "/./";
                    break;
                case 1:
                    path += "/x/../";
                    break;
                case 2:
                    path += "//";
                    break;
                case 3:
                    path += "/%2e/";
                    break;
                case 4:
                    path += "\\";
                    break;
                default:
                    path += "/";
            }
            if (path.size() > 1 && path.back() == '/' && path.size() >= 2 &&
                path[path.size() - 2] == '/' && random() % 2)
                path.pop_back();
            path += mutate_segment(segment);
        }
        switch (random() % 8) {
            case 0:
                path += "/";
                break;
            case 1:
                path += ";v=2";
                break;
            case 2:
                path += "#frag";
                break;
            case 3:
                path += "?x=1";
                break;
            default:
                break;
        }
        const std::string target = prefixes[random() % prefixes.size()] + path;
        auto result = canonicalize_target(target, kHost, 443);
        const CanonicalTarget* ok = std::get_if<CanonicalTarget>(&result);
        if (!ok) continue;
        ++admitted;
        std::string seen = std::string(ok->path());
        for (char& c : seen) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(lenient_upstream_view(std::string(ok->path())), seen) << target;
        if (lenient_upstream_view(path.substr(0, path.find_first_of("?#"))) == "/v1/embeddings") {
            EXPECT_EQ(seen, "/v1/embeddings") << target;
        }
    }
    EXPECT_GT(admitted, 500u);  // the generator does produce canonical spellings too
}

TEST(AuthorityNamesHost, ComparesNameIgnoringCaseAndOneTrailingDotAndChecksThePort) {
    EXPECT_TRUE(authority_names_host("api.openai.com", kHost, 443));
    EXPECT_TRUE(authority_names_host("API.OpenAI.com.", kHost, 443));
    EXPECT_TRUE(authority_names_host("api.openai.com:443", kHost, 443));
    EXPECT_FALSE(authority_names_host("api.openai.com:8443", kHost, 443));
    EXPECT_FALSE(authority_names_host("api.openai.com:", kHost, 443));
    EXPECT_FALSE(authority_names_host("api.openai.com:0443x", kHost, 443));
    EXPECT_FALSE(authority_names_host("evil.example", kHost, 443));
    EXPECT_FALSE(authority_names_host("", kHost, 443));
    EXPECT_FALSE(authority_names_host("api.openai.com..", kHost, 443));
    EXPECT_EQ(canonical_host_name("API.OpenAI.COM."), "api.openai.com");
}

RequestHeader request(http::verb method, std::string target,
                      std::vector<std::pair<std::string, std::string>> fields = {}) {
    RequestHeader header;
    header.method(method);
    header.target(target);
    for (const auto& [name, value] : fields) header.insert(name, value);
    return header;
}

TEST(RequestAdmission, RewritesTargetAndHostToTheCanonicalOnes) {
    for (const char* host :
         {"api.openai.com", "API.OPENAI.COM", "api.openai.com.", "api.openai.com:443"}) {
        auto header = request(http::verb::post, "https://Api.OpenAI.com/v1/chat/completions",
                              {{"Host", host}});
        auto admitted = admit_request_head(header, kHost, 443, true);
        ASSERT_TRUE(std::holds_alternative<AdmittedHead>(admitted)) << host;
        EXPECT_EQ(header.target(), "/v1/chat/completions");
        EXPECT_EQ(header.count(http::field::host), 1u);
        EXPECT_EQ(header[http::field::host], "api.openai.com");
    }
    auto no_host = request(http::verb::get, "/v1/models");
    ASSERT_TRUE(
        std::holds_alternative<AdmittedHead>(admit_request_head(no_host, kHost, 443, false)));
    EXPECT_EQ(no_host[http::field::host], "api.openai.com");
}

TEST(RequestAdmission, AnotherAuthorityInHostIsMisdirected) {
    for (const char* host :
         {"evil.example", "api.openai.com:8443", "api.openai.com.evil.example", "", "127.0.0.1"}) {
        auto header = request(http::verb::post, "/v1/chat/completions", {{"Host", host}});
        auto admitted = admit_request_head(header, kHost, 443, true);
        ASSERT_TRUE(std::holds_alternative<ClientError>(admitted)) << host;
        EXPECT_EQ(std::get<ClientError>(admitted).status, 421u) << host;
    }
    auto two_hosts = request(http::verb::post, "/v1/chat/completions",
                             {{"Host", "api.openai.com"}, {"Host", "evil.example"}});
    auto admitted = admit_request_head(two_hosts, kHost, 443, true);
    ASSERT_TRUE(std::holds_alternative<ClientError>(admitted));
    EXPECT_EQ(std::get<ClientError>(admitted).status, 400u);
}

TEST(RequestAdmission, OnlyStandardMethodsPass) {
    for (auto method : {http::verb::get, http::verb::post, http::verb::put, http::verb::patch,
                        http::verb::delete_, http::verb::head, http::verb::options}) {
        auto header = request(method, "/v1/models");
        EXPECT_TRUE(
            std::holds_alternative<AdmittedHead>(admit_request_head(header, kHost, 443, false)));
    }
    for (auto method :
         {http::verb::connect, http::verb::trace, http::verb::propfind, http::verb::purge}) {
        auto header = request(method, "/v1/models");
        auto admitted = admit_request_head(header, kHost, 443, false);
        ASSERT_TRUE(std::holds_alternative<ClientError>(admitted));
        EXPECT_EQ(std::get<ClientError>(admitted).status, 405u);
    }
    RequestHeader lower;
    lower.method_string("post");
    lower.target("/v1/embeddings");
    EXPECT_TRUE(std::holds_alternative<ClientError>(admit_request_head(lower, kHost, 443, true)));
}

// The body is read by what the endpoint takes: whatever the Content-Type claims, it is read
// whole (as JSON) unless it is a multipart upload to an upload endpoint.
TEST(RequestAdmission, BodyReadingFollowsTheEndpointNotTheContentType) {
    const std::vector<std::string> content_types = {"application/json",
                                                    "Application/JSON",
                                                    "application/json; charset=utf-8",
                                                    "text/plain",
                                                    "",
                                                    "application/x-www-form-urlencoded",
                                                    "application/octet-stream",
                                                    "multipart/form-data; boundary=x",
                                                    "MULTIPART/FORM-DATA;boundary=x",
                                                    " multipart/form-data ;boundary=x",
                                                    "application/jsonx",
                                                    "json"};
    for (const std::string& type : content_types) {
        for (const char* path :
             {"/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/files",
              "/v1/uploads/up_1/parts", "/v1/audio/transcriptions", "/v1/files/extra"}) {
            std::vector<std::pair<std::string, std::string>> fields;
            if (!type.empty()) fields.emplace_back("Content-Type", type);
            auto header = request(http::verb::post, path, fields);
            auto admitted = admit_request_head(header, kHost, 443, true);
            ASSERT_TRUE(std::holds_alternative<AdmittedHead>(admitted));
            std::string media = type.substr(0, type.find(';'));
            std::erase(media, ' ');
            for (char& c : media)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            const bool upload = media == "multipart/form-data" && is_upload_endpoint(path);
            EXPECT_EQ(std::get<AdmittedHead>(admitted).body,
                      upload ? BodyReading::streamed_upload : BodyReading::whole)
                << type << " " << path;
        }
    }
    auto no_body = request(http::verb::get, "/v1/models");
    EXPECT_EQ(std::get<AdmittedHead>(admit_request_head(no_body, kHost, 443, false)).body,
              BodyReading::none);
}

TEST(RequestAdmission, AnEncodedBodyIsMarkedUnreadable) {
    for (const char* encoding :
         {"gzip", "GZIP", "br", "deflate", "zstd", "x-anything", "gzip, identity"}) {
        auto header =
            request(http::verb::post, "/v1/chat/completions", {{"Content-Encoding", encoding}});
        EXPECT_TRUE(
            std::get<AdmittedHead>(admit_request_head(header, kHost, 443, true)).body_encoded)
            << encoding;
    }
    auto identity =
        request(http::verb::post, "/v1/chat/completions", {{"Content-Encoding", "identity"}});
    EXPECT_FALSE(
        std::get<AdmittedHead>(admit_request_head(identity, kHost, 443, true)).body_encoded);
}

TEST(RequestAdmission, FramingAndTargetProblemsAreRefusedBeforeAnythingElse) {
    auto smuggled = request(http::verb::post, "/v1/chat/completions",
                            {{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}});
    EXPECT_EQ(std::get<ClientError>(admit_request_head(smuggled, kHost, 443, true)).status, 400u);
    auto dotted = request(http::verb::post, "/v1/x/../embeddings");
    const auto refusal = std::get<ClientError>(admit_request_head(dotted, kHost, 443, true));
    EXPECT_EQ(refusal.status, 400u);
    EXPECT_EQ(refusal.code, "non_canonical_target");
    EXPECT_EQ(dotted.target(), "/v1/x/../embeddings");  // a refused request is left as it came
}

TEST(UploadEndpoints, AreTheMultipartOnesOfTheApi) {
    for (const char* path :
         {"/v1/files", "/v1/uploads/upload_abc/parts", "/v1/audio/transcriptions",
          "/v1/audio/translations", "/v1/images/edits", "/v1/images/variations",
          "/v1/containers/cntr_1/files"})
        EXPECT_TRUE(is_upload_endpoint(path)) << path;
    for (const char* path : {"/v1/chat/completions", "/v1/uploads//parts", "/v1/uploads/a/b/parts",
                             "/v1/files/file-1", "/v1/filesx", "/v1/uploads/parts"})
        EXPECT_FALSE(is_upload_endpoint(path)) << path;
}

}  // namespace
}  // namespace sluice
