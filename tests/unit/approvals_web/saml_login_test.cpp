// SAML sign-in's start-up checks, before lasso is given anything: a signing key others can read
// and an IdP metadata file that cannot be read each stop sluiced with one line naming the key.
// (Signing, verification and the refusals are end to end: tests/e2e/test_approvals_saml.sh.)
#include "agent/approvals_web/saml_login.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

class SamlLoginStartup : public ::testing::Test {
protected:
    SamlLoginStartup() {
        dir_ = std::filesystem::temp_directory_path() /
               ("saml-login-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        write("sp.key", "not a key", 0600);
        write("sp.crt", "not a certificate", 0644);
        write("idp.xml", "<md:EntityDescriptor/>", 0644);
        config_.idp_metadata_file = (dir_ / "idp.xml").string();
        config_.sp_key_file = (dir_ / "sp.key").string();
        config_.sp_cert_file = (dir_ / "sp.crt").string();
        config_.approver_groups = {"approvers"};
    }
    ~SamlLoginStartup() override { std::filesystem::remove_all(dir_); }

    void write(const std::string& name, const std::string& text, mode_t mode) {
        std::ofstream(dir_ / name) << text;
        ::chmod((dir_ / name).c_str(), mode);
    }
    std::string startup_error() {
        try {
            SamlLogin login(config_, "https://approvals.test/");
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return "";
    }

    std::filesystem::path dir_;
    ApprovalSamlConfig config_;
};

TEST_F(SamlLoginStartup, ASigningKeyOthersCanReadStopsStartUp) {
    ::chmod(config_.sp_key_file.c_str(), 0640);
    EXPECT_EQ(startup_error(), "approvals.web.saml.sp_key_file: " + config_.sp_key_file +
                                   " is readable by others; chmod 600 it");
}

TEST_F(SamlLoginStartup, MissingFilesAndUnusableKeysAreNamed) {
    config_.idp_metadata_file = (dir_ / "absent.xml").string();
    EXPECT_EQ(startup_error(),
              "approvals.web.saml.idp_metadata_file: cannot read " + config_.idp_metadata_file);
    config_.idp_metadata_file = (dir_ / "idp.xml").string();
    EXPECT_NE(startup_error().find("approvals.web.saml.sp_cert_file: no PEM certificate"),
              std::string::npos)
        << "a certificate file without a certificate";
}

}  // namespace
}  // namespace sluice
