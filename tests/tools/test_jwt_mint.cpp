// test-jwt-mint: makes signing keys, JWKS files and ID tokens for end-to-end tests of sluiced's
// OIDC identity (docs/oidc.md). Test tool only: keys are written unencrypted.
#include <openssl/pem.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/oidc/jwt_test_support.h"

namespace {

using nlohmann::json;
using sluice::EvpPkeyPtr;
using sluice::JwsAlgorithm;

constexpr const char* kUsage = R"(usage:
  test-jwt-mint keygen --alg RS256|ES256|EdDSA --kid KID --key KEY.pem [--jwks JWKS.json]
      Generates a key pair, writes the private key to KEY.pem (0600) and adds the public
      key to JWKS.json (created if missing; a key with the same kid is replaced).

  test-jwt-mint sign --key KEY.pem --kid KID --iss ISSUER --aud AUD [options]
      Prints a signed compact JWT on stdout. The algorithm follows the key type.
      --aud AUD         repeatable; more than one gives an "aud" list
      --sub SUB         subject (default "test-user")
      --email EMAIL
      --group GROUP     repeatable; gives a "groups" list
      --claim NAME=VAL  repeatable; a string claim
      --exp-in SECONDS  exp = now + SECONDS (default 3600; negative = already expired)
      --no-exp          leave exp out
      --nbf-in SECONDS  nbf = now + SECONDS
      --alg-header NAME put NAME in the header's "alg" while signing with the key anyway
                        (negative tests: none, HS256, a mismatching algorithm)

Examples:
  test-jwt-mint keygen --alg ES256 --kid k1 --key /tmp/k1.pem --jwks /tmp/jwks.json
  OPENAI_API_KEY=$(test-jwt-mint sign --key /tmp/k1.pem --kid k1 \
      --iss https://ci.example --aud sluice --sub alice --group ml) curl ...
)";

[[noreturn]] void die(const std::string& why) {
    std::cerr << "test-jwt-mint: " << why << "\n";
    std::exit(2);
}

struct Args {
    std::string command;
    std::multimap<std::string, std::string> options;
    std::string one(const std::string& name, const std::string& fallback = "") const {
        auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
    std::vector<std::string> all(const std::string& name) const {
        std::vector<std::string> out;
        auto [from, to] = options.equal_range(name);
        for (auto it = from; it != to; ++it) out.push_back(it->second);
        return out;
    }
    bool has(const std::string& name) const { return options.count(name) != 0; }
};

Args parse_args(int argc, char** argv) {
    Args args;
    if (argc < 2) die("missing command (keygen or sign); see --help");
    args.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string name = argv[i];
        if (name.rfind("--", 0) != 0) die("unexpected argument '" + name + "'");
        name = name.substr(2);
        if (name == "no-exp") {
            args.options.emplace(name, "");
            continue;
        }
        if (i + 1 >= argc) die("--" + name + " needs a value");
        args.options.emplace(name, argv[++i]);
    }
    return args;
}

std::string required(const Args& args, const std::string& name) {
    if (!args.has(name)) die("--" + name + " is required");
    return args.one(name);
}

JwsAlgorithm algorithm_of(EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
            return JwsAlgorithm::rs256;
        case EVP_PKEY_EC:
            return JwsAlgorithm::es256;
        case EVP_PKEY_ED25519:
            return JwsAlgorithm::eddsa;
        default:
            die("unsupported key type");
    }
}

int keygen(const Args& args) {
    const auto alg = sluice::parse_jws_algorithm(required(args, "alg"));
    if (!alg) die("--alg must be RS256, ES256 or EdDSA");
    const std::string kid = required(args, "kid");
    const std::string key_path = required(args, "key");
    EvpPkeyPtr key = sluice::test::generate_signing_key(*alg);

    sluice::BioPtr out(BIO_new_file(key_path.c_str(), "w"));
    if (!out || PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
        die("cannot write " + key_path);
    }
    out.reset();
    ::chmod(key_path.c_str(), 0600);

    if (args.has("jwks")) {
        const std::string jwks_path = args.one("jwks");
        json doc = {{"keys", json::array()}};
        if (std::ifstream in(jwks_path); in) {
            doc = json::parse(in, nullptr, false);
            if (doc.is_discarded() || !doc.contains("keys") || !doc["keys"].is_array())
                die(jwks_path + " is not a JWKS document");
        }
        json kept = json::array();
        for (const auto& k : doc["keys"]) {
            if (!(k.contains("kid") && k["kid"] == kid)) kept.push_back(k);
        }
        kept.push_back(sluice::test::public_jwk(key.get(), *alg, kid, true));
        doc["keys"] = kept;
        const std::string tmp = jwks_path + ".tmp";
        std::ofstream(tmp, std::ios::trunc) << doc.dump(2) << "\n";
        if (std::rename(tmp.c_str(), jwks_path.c_str()) != 0) die("cannot write " + jwks_path);
    }
    return 0;
}

int sign(const Args& args) {
    const std::string key_path = required(args, "key");
    sluice::BioPtr in(BIO_new_file(key_path.c_str(), "r"));
    EvpPkeyPtr key(in ? PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key) die("cannot read a private key from " + key_path);
    const JwsAlgorithm alg = algorithm_of(key.get());

    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    json claims;
    claims["iss"] = required(args, "iss");
    const auto audiences = args.all("aud");
    if (audiences.empty()) die("--aud is required");
    claims["aud"] = audiences.size() == 1 ? json(audiences[0]) : json(audiences);
    claims["sub"] = args.one("sub", "test-user");
    if (args.has("email")) claims["email"] = args.one("email");
    if (args.has("group")) claims["groups"] = args.all("group");
    for (const std::string& claim : args.all("claim")) {
        const size_t eq = claim.find('=');
        if (eq == std::string::npos || eq == 0)
            die("--claim wants NAME=VALUE, got '" + claim + "'");
        claims[claim.substr(0, eq)] = claim.substr(eq + 1);
    }
    claims["iat"] = now;
    if (!args.has("no-exp")) claims["exp"] = now + std::stoll(args.one("exp-in", "3600"));
    if (args.has("nbf-in")) claims["nbf"] = now + std::stoll(args.one("nbf-in"));

    json header = {{"typ", "JWT"}, {"kid", required(args, "kid")}};
    if (args.has("alg-header")) header["alg"] = args.one("alg-header");
    std::cout << sluice::test::sign_jwt(header, claims, key.get(), alg, "") << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::cout << kUsage;
            return 0;
        }
    }
    try {
        const Args args = parse_args(argc, argv);
        if (args.command == "keygen") return keygen(args);
        if (args.command == "sign") return sign(args);
        die("unknown command '" + args.command + "'; see --help");
    } catch (const std::exception& e) {
        die(e.what());
    }
}
