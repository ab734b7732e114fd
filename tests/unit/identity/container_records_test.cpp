#include "agent/identity/container_records.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/identity/identity.h"
#include "agent/identity/process_info.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

const std::string kId = "2e4e06fbc8f384a24bc4b0ffcd80164de3b32e244f66d2ab35600fe5346e5f55";
const std::string kOther = "1087c01d7a6021a5c5161389638208aa1674e146ff87d35a5279daad534efa98";

// What podman 4.3 wrote to /var/lib/containers/storage/overlay-containers/containers.json for a
// container made from an imported image (trimmed to the fields read).
const std::string kPodmanList =
    R"([
 {"id": ")" +
    kId + R"(", "names": ["sluice-c17-t2"],
  "image": "6fe94a223a39398288117ce1bd4bee05f99892d9746f7d3a859d5620fd0ca545",
  "metadata": "{\"image-name\":\"localhost/sluice-c17-root:latest\",\"image-id\":\"6fe94a22\",\"name\":\"sluice-c17-t2\",\"created-at\":1796656523}"},
 {"id": ")" +
    kOther +
    R"(", "names": ["web"], "metadata": "{\"image-name\":\"docker.io/library/nginx:1.25\"}"}
])";

// CRI-O's entry: the storage name is k8s_..., the metadata keeps the container's own name.
const std::string kCrioList = R"([{"id": ")" + kId +
                              R"(", "names": ["k8s_app_web-7d4b_default_0f3a_0"],
  "metadata": "{\"pod-name\":\"web-7d4b\",\"pod-id\":\"abc\",\"image-name\":\"registry.k8s.io/pause:3.9\",\"name\":\"k8s_app_web-7d4b_default_0f3a_0\",\"metadata-name\":\"app\"}"}])";

const std::string kDockerConfig = R"({"ID": ")" + kId + R"(", "Name": "/ci-agent",
  "Config": {"Image": "python:3.12-slim", "Labels": {"com.docker.compose.service": "agent"}}})";

const std::string kDockershimConfig = R"({"Name": "/k8s_app_web_default_0f3a_0",
  "Config": {"Image": "sha256:abc", "Labels": {"io.kubernetes.pod.name": "web",
  "io.kubernetes.pod.namespace": "default", "io.kubernetes.container.name": "app"}}})";

const std::string kCrioOci = R"({"ociVersion": "1.0.2", "annotations": {
  "io.kubernetes.container.name": "app", "io.kubernetes.cri-o.ImageName": "ghcr.io/acme/agent:2",
  "io.kubernetes.pod.name": "agent-5f9", "io.kubernetes.pod.namespace": "ml"}})";

const std::string kContainerdOci = R"({"annotations": {
  "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.container-name": "app",
  "io.kubernetes.cri.image-name": "docker.io/acme/agent:2",
  "io.kubernetes.cri.sandbox-name": "agent-5f9", "io.kubernetes.cri.sandbox-namespace": "ml"}})";

const std::string kNerdctlOci = R"({"annotations": {"nerdctl/name": "builder"}})";

TEST(ParseStorageContainers, PodmanNamesAndImages) {
    const auto records = parse_storage_containers(kPodmanList);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records.at(kId),
              (ContainerRecord{"sluice-c17-t2", "localhost/sluice-c17-root:latest", "", ""}));
    EXPECT_EQ(records.at(kOther), (ContainerRecord{"web", "docker.io/library/nginx:1.25", "", ""}));
}

TEST(ParseStorageContainers, CrioKeepsTheContainersOwnNameAndPod) {
    const auto records = parse_storage_containers(kCrioList);
    EXPECT_EQ(records.at(kId),
              (ContainerRecord{"app", "registry.k8s.io/pause:3.9", "web-7d4b", ""}));
}

TEST(ParseStorageContainers, MalformedInputGivesNothing) {
    for (const std::string text :
         {"", "{", "[]", "{}", R"([{"names": ["x"]}])", R"([{"id": 5}])", "[1, \"a\", null]",
          R"([{"id": "x", "metadata": "not json"}])"}) {
        const auto records = parse_storage_containers(text);
        for (const auto& [id, record] : records) EXPECT_EQ(id, "x") << text;
    }
}

TEST(ParseDockerConfig, NameImageAndKubernetesLabels) {
    EXPECT_EQ(parse_docker_config(kDockerConfig),
              (ContainerRecord{"ci-agent", "python:3.12-slim", "", ""}));
    EXPECT_EQ(parse_docker_config(kDockershimConfig),
              (ContainerRecord{"app", "sha256:abc", "web", "default"}));
    EXPECT_FALSE(parse_docker_config("[]"));
    EXPECT_FALSE(parse_docker_config(R"({"Config": 7})"));
}

TEST(ParseOciAnnotations, CrioContainerdAndNerdctl) {
    EXPECT_EQ(parse_oci_annotations(kCrioOci),
              (ContainerRecord{"app", "ghcr.io/acme/agent:2", "agent-5f9", "ml"}));
    EXPECT_EQ(parse_oci_annotations(kContainerdOci),
              (ContainerRecord{"app", "docker.io/acme/agent:2", "agent-5f9", "ml"}));
    EXPECT_EQ(parse_oci_annotations(kNerdctlOci), (ContainerRecord{"builder", "", "", ""}));
    // podman's own OCI config names nothing.
    EXPECT_FALSE(parse_oci_annotations(R"({"annotations": {"io.container.manager": "libpod"}})"));
    EXPECT_FALSE(parse_oci_annotations("{}"));
}

// A tree shaped like a host's, under a temporary directory that counts as the system's.
class ContainerRecordsTree : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() /
                ("sluice-c17-records-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_);
        ::chmod(root_.c_str(), 0755);
        sources_.storage_roots = {(root_ / "lib/containers/storage").string()};
        sources_.storage_run_roots = {(root_ / "run/containers/storage").string()};
        sources_.docker_root = (root_ / "lib/docker").string();
        sources_.containerd_tasks =
            (root_ / "run/containerd/io.containerd.runtime.v2.task").string();
        sources_.system_uid = ::getuid();
    }
    void TearDown() override { fs::remove_all(root_); }

    void write(const fs::path& path, const std::string& text, mode_t mode = 0600) {
        fs::create_directories(path.parent_path());
        for (fs::path dir = path.parent_path(); dir != root_ && dir.has_parent_path();
             dir = dir.parent_path())
            ::chmod(dir.c_str(), 0700);
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
    }

    fs::path root_;
    ContainerRecordSources sources_;
};

TEST_F(ContainerRecordsTree, FindsEachRuntimesRecord) {
    write(root_ / "lib/containers/storage/overlay-containers/containers.json", kPodmanList);
    write(root_ / "run/containers/storage/overlay-containers" / kOther / "userdata/config.json",
          kCrioOci);
    write(root_ / "lib/docker/containers" / kId / "config.v2.json", kDockerConfig);
    write(root_ / "run/containerd/io.containerd.runtime.v2.task/k8s.io" / kOther / "config.json",
          kContainerdOci);
    ContainerRecords records(sources_);
    EXPECT_EQ(records.find("podman", kId)->name, "sluice-c17-t2");
    EXPECT_EQ(records.find("podman", kId)->image, "localhost/sluice-c17-root:latest");
    EXPECT_EQ(records.find("cri-o", kOther)->pod_namespace, "ml");
    EXPECT_EQ(records.find("docker", kId)->name, "ci-agent");
    EXPECT_EQ(records.find("containerd", kOther)->image, "docker.io/acme/agent:2");
    EXPECT_EQ(records.find("cri", kOther)->name, "app");
    EXPECT_FALSE(records.find("docker", kOther));
    EXPECT_FALSE(records.find("lxc", kId));
}

TEST_F(ContainerRecordsTree, VolatileContainersOfPodmanRunRm) {
    write(root_ / "run/containers/storage/overlay-containers/volatile-containers.json",
          kPodmanList);
    ContainerRecords records(sources_);
    EXPECT_EQ(records.find("podman", kOther)->name, "web");
}

TEST_F(ContainerRecordsTree, ARecordOthersCouldWriteIsNotRead) {
    write(root_ / "lib/containers/storage/overlay-containers/containers.json", kPodmanList, 0666);
    write(root_ / "lib/docker/containers" / kId / "config.v2.json", kDockerConfig);
    ::chmod((root_ / "lib/docker/containers").c_str(), 0777);
    ContainerRecords records(sources_);
    EXPECT_FALSE(records.find("podman", kId)) << "a world-writable list";
    EXPECT_FALSE(records.find("docker", kId)) << "a world-writable directory on the way";
}

TEST_F(ContainerRecordsTree, ASymlinkIsNotFollowed) {
    write(root_ / "elsewhere/config.v2.json", kDockerConfig);
    fs::create_directories(root_ / "lib/docker/containers" / kId);
    fs::create_symlink(root_ / "elsewhere/config.v2.json",
                       root_ / "lib/docker/containers" / kId / "config.v2.json");
    ContainerRecords records(sources_);
    EXPECT_FALSE(records.find("docker", kId));
}

TEST_F(ContainerRecordsTree, AChangedListIsReread) {
    write(root_ / "lib/containers/storage/overlay-containers/containers.json", "[]");
    ContainerRecords records(sources_);
    EXPECT_FALSE(records.find("podman", kId));
    ::usleep(10'000);  // a new mtime
    write(root_ / "lib/containers/storage/overlay-containers/containers.json", kPodmanList);
    EXPECT_EQ(records.find("podman", kOther)->name, "web") << "a new container rereads the list";
    EXPECT_FALSE(records.find("podman", kId)) << "a miss is remembered for a moment";
}

TEST(UidMap, InitialNamespaceIsNoMap) {
    EXPECT_TRUE(parse_uid_map("         0          0 4294967295\n").empty());
}

TEST(UidMap, RootlessContainer) {
    // rootless podman for uid 1000: 0 -> 1000, 1..65536 -> the subuid range.
    const auto map =
        parse_uid_map("         0       1000          1\n         1     100000      65536\n");
    ASSERT_EQ(map.size(), 2u);
    EXPECT_EQ(uid_inside(map, 1000), 0u);
    EXPECT_EQ(uid_inside(map, 100000), 1u);
    EXPECT_EQ(uid_inside(map, 100999), 1000u);
    EXPECT_FALSE(uid_inside(map, 0)) << "host root is not mapped: nobody inside";
    EXPECT_FALSE(uid_inside(map, 165536));
}

TEST(IdentityJson, ContainerRecordFieldsAndNamespaceUid) {
    Identity id;
    id.container_runtime = "podman";
    id.container_id = kId;
    id.container_name = "ci-agent";
    id.container_image = "localhost/agent:1";
    id.namespace_uid = 0;
    const auto j = id.to_json();
    EXPECT_EQ(j["container_name"], "ci-agent");
    EXPECT_EQ(j["container_image"], "localhost/agent:1");
    EXPECT_EQ(j["namespace_uid"], 0);
    EXPECT_FALSE(j.contains("pod_name"));
    EXPECT_FALSE(Identity{}.to_json().contains("namespace_uid"));
}

}  // namespace
}  // namespace sluice
