// What the audit keeps of client-chosen texts (command line, model): nothing the policy masks
// or blocks, in any spelling.
#include "agent/gate/audit_text.h"

#include <gtest/gtest.h>

#include "agent/gate/policy_store.h"
#include "agent/gate/request_gate.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

const char* kPolicy = R"(version: 1
default: allow
pattern_sets:
  markers:
    - {name: marker, regex: 'SLUICE-MARKER-[0-9]{4}'}
block_prompts:
  sets: [markers]
masking_patterns:
  employee_id: 'EMP-\d{6}'
rules:
  - name: staff
    match: {users: [alice]}
    masking:
      - entities: [employee_id]
        action: redact
)";

class AuditText : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = std::make_unique<PolicyStore>(dir_.write("policy.yaml", kPolicy));
        store_->load_initial();
    }
    testing::ScratchDir dir_;
    std::unique_ptr<PolicyStore> store_;
};

TEST_F(AuditText, CommandLineKeepsNoPersonalDataOrSecretInAnySpelling) {
    const std::string cmdline =
        "curl -d {\"ssn\":\"123-45-6789\",\"to\":\"jane.roe@example.com\",\"card\":\"4111 1111 "
        "1111 1111\","
        "\"k\":\"AKIAIOSFODNN7EXAMPLE\",\"m\":\"ｊａｎｅ@ｅｘａｍｐｌｅ.ｃｏｍ\",\"e\":\"EMP-"
        "123456\"} https://api.openai.com/v1/x";
    const std::string kept = audit_safe_text(store_->current().get(), cmdline);
    for (const char* value : {"123-45-6789", "jane.roe@example.com", "4111 1111 1111 1111",
                              "AKIAIOSFODNN7EXAMPLE", "ｊａｎｅ", "EMP-123456"})
        EXPECT_EQ(kept.find(value), std::string::npos) << value << " in " << kept;
    EXPECT_EQ(kept.substr(0, 5), "curl ");
    EXPECT_NE(kept.find("[US_SSN]"), std::string::npos) << kept;
    EXPECT_NE(kept.find("[EMPLOYEE_ID]"), std::string::npos) << kept;
}

TEST_F(AuditText, ABlockedMarkerWithholdsTheWholeTextAsAHash) {
    for (const std::string cmdline :
         {"curl -d SLUICE-MARKER-4242 https://x", "curl -d ＳＬＵＩＣＥ-ＭＡＲＫＥＲ-４２４２",
          "curl -d SLUICE-\u200bMARKER-4242"}) {
        const std::string kept = audit_safe_text(store_->current().get(), cmdline);
        EXPECT_EQ(kept.find("MARKER"), std::string::npos) << kept;
        EXPECT_EQ(kept.find("ＭＡＲＫＥＲ"), std::string::npos) << kept;
        EXPECT_EQ(kept.substr(0, 5), "curl ") << kept;
        EXPECT_NE(kept.find("withheld: matches blocked pattern markers/marker; sha256 "),
                  std::string::npos)
            << kept;
    }
    // Without a policy the recognizers still run.
    EXPECT_EQ(audit_safe_text(nullptr, "mail a@b.com"), "mail [EMAIL]");
}

TEST_F(AuditText, TheAuditedModelIsHeldToTheSameRule) {
    PolicyState state;
    RequestGate gate(*store_, state);
    PolicyIdentity who;
    who.user = "bob";
    std::string body = R"({"model":"AKIAIOSFODNN7EXAMPLE","input":"x"})";
    GateRequest request{"POST", "/v1/embeddings", &body, true};
    EXPECT_EQ(gate.admit(who, request).summary.model, "[AWS_ACCESS_KEY]");
}

// The gate remembers each model's audited name per thread: asked again, and after a reload that
// changes what the policy blocks, it answers as the policy in force does.
TEST_F(AuditText, TheRememberedModelNameFollowsThePolicyInForce) {
    PolicyState state;
    RequestGate gate(*store_, state);
    PolicyIdentity who;
    who.user = "bob";
    auto model_audited = [&](const std::string& model) {
        std::string body = R"({"model":")" + model + R"(","input":"x"})";
        GateRequest request{"POST", "/v1/embeddings", &body, true};
        return gate.admit(who, request).summary.model;
    };
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(model_audited("gpt-4o-mini"), "gpt-4o-mini");
        EXPECT_EQ(model_audited("SLUICE-MARKER-1234").find("SLUICE-MARKER"), std::string::npos);
        for (int other = 0; other < 6; ++other)  // more names than are remembered
            EXPECT_EQ(model_audited("m" + std::to_string(other)), "m" + std::to_string(other));
    }
    std::string blocking_models = kPolicy;
    blocking_models.replace(blocking_models.find("SLUICE-MARKER-[0-9]{4}"), 22, "gpt-4o");
    dir_.write("policy.yaml", blocking_models);
    ASSERT_TRUE(store_->reload().ok);
    const std::string kept = model_audited("gpt-4o-mini");
    EXPECT_EQ(kept.find("gpt-4o"), std::string::npos) << kept;
    EXPECT_NE(kept.find("[withheld: matches blocked pattern markers/marker"), std::string::npos)
        << kept;
}

}  // namespace
}  // namespace sluice
