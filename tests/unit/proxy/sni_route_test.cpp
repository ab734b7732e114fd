#include "agent/proxy/sni_route.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

SniResult hello(std::optional<std::string> sni, bool ech = false) {
    SniResult result;
    result.status = ClientHelloStatus::ok;
    result.sni = std::move(sni);
    result.encrypted_client_hello = ech;
    return result;
}

const SniRoutingTable kTable{{"api.openai.com"}, {"cdn.openai.com", "*.oaistatic.com"}};

TEST(SniRoute, InterceptedNamesInAnySpellingAreIntercepted) {
    // The peek lower-cases names; the trailing dot must not send it down another path.
    for (const char* name : {"api.openai.com", "api.openai.com."}) {
        const SniRoute route = route_client_hello(hello(name), kTable, std::nullopt);
        EXPECT_EQ(route.kind, SniRouteKind::intercept) << name;
        EXPECT_EQ(route.host, "api.openai.com");
    }
}

TEST(SniRoute, NoNameIsServedAsTheHostOfTheAddress) {
    const SniRoute route =
        route_client_hello(hello(std::nullopt), kTable, std::string("api.openai.com"));
    EXPECT_EQ(route.kind, SniRouteKind::intercept);
    EXPECT_EQ(route.host, "api.openai.com");
    for (std::optional<std::string> address_host :
         {std::optional<std::string>(), std::optional<std::string>("other.example")}) {
        const SniRoute unknown = route_client_hello(hello(std::nullopt), kTable, address_host);
        EXPECT_EQ(unknown.kind, SniRouteKind::refuse);
        EXPECT_EQ(unknown.reason, "no_sni_unknown_address");
    }
    EXPECT_EQ(route_client_hello(hello(""), kTable, std::string("api.openai.com")).kind,
              SniRouteKind::intercept);
}

TEST(SniRoute, ForeignNamesPassOnlyWhenAllowlisted) {
    for (const char* name : {"cdn.openai.com", "cdn.openai.com.", "a.oaistatic.com"})
        EXPECT_EQ(route_client_hello(hello(name), kTable, std::string("api.openai.com")).kind,
                  SniRouteKind::passthrough)
            << name;
    for (const char* name : {"other.example", "api.openai.com.evil", "openai.com", "oaistatic.com",
                             "xapi.openai.com"}) {
        const SniRoute route =
            route_client_hello(hello(name), kTable, std::string("api.openai.com"));
        EXPECT_EQ(route.kind, SniRouteKind::refuse) << name;
        EXPECT_EQ(route.reason, "sni_not_allowed");
        EXPECT_EQ(route.host, name[std::string(name).size() - 1] == '.'
                                  ? std::string(name).substr(0, std::string(name).size() - 1)
                                  : name);
    }
    // The default: nothing passes.
    EXPECT_EQ(route_client_hello(hello("cdn.openai.com"), SniRoutingTable{{"api.openai.com"}, {}},
                                 std::nullopt)
                  .kind,
              SniRouteKind::refuse);
}

TEST(SniRoute, EncryptedClientHelloIsRefusedUnlessItsOuterNameIsAllowlisted) {
    for (const char* outer : {"api.openai.com", "public.example", ""}) {
        const SniRoute route =
            route_client_hello(hello(outer, true), kTable, std::string("api.openai.com"));
        EXPECT_EQ(route.kind, SniRouteKind::refuse) << outer;
        EXPECT_EQ(route.reason, "encrypted_client_hello");
    }
    EXPECT_EQ(route_client_hello(hello("cdn.openai.com", true), kTable, std::nullopt).kind,
              SniRouteKind::passthrough);
}

}  // namespace
}  // namespace sluice
