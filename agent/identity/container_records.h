// What a container runtime's own records on disk say about a container the cgroup path named
// (cgroup_attribution.h gives the runtime and the id): its name, its image and, under
// Kubernetes, its pod. Only files the system alone could have written are read (every
// directory from / down and the file itself writable by root only, root_only_access.h): the
// records of root's runtimes, whose containers only root (or the docker group, root's equal)
// can make. A rootless runtime's records are its user's and are not read.
//
//   podman, CRI-O   containers/storage's list of containers (<graph root>/<driver>-containers/
//                   containers.json, and volatile-containers.json under the run root for
//                   containers made with --rm): names[0], metadata image-name, pod-name
//                   CRI-O also writes the OCI config (<run root>/<driver>-containers/<id>/
//                   userdata/config.json) with the Kubernetes annotations, read first
//   docker          <docker root>/containers/<id>/config.v2.json: Name, Config.Image, the
//                   io.kubernetes.* labels when kubelet made it
//   containerd      the task bundle's OCI config (<state>/io.containerd.runtime.v2.task/
//                   <namespace>/<id>/config.json): the CRI annotations, nerdctl/name
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/identity/lru_map.h"

namespace sluice {

struct ContainerRecord {
    std::string name;
    std::string image;
    std::string pod_name;       // Kubernetes pod, when the runtime's record names one
    std::string pod_namespace;  // ... and its namespace
    bool operator==(const ContainerRecord&) const = default;
};

// Where the records are; tests point these at trees of their own.
struct ContainerRecordSources {
    std::vector<std::string> storage_roots{"/var/lib/containers/storage"};
    std::vector<std::string> storage_run_roots{"/run/containers/storage"};
    std::string docker_root = "/var/lib/docker";
    std::string containerd_tasks = "/run/containerd/io.containerd.runtime.v2.task";
    uint32_t system_uid = 0;  // who owns the system's files: root on a host
};

class ContainerRecords {
public:
    explicit ContainerRecords(ContainerRecordSources sources = {});

    // The record of container `id` of `runtime` ("podman", "cri-o", "docker", "containerd",
    // "cri"). nullopt when there is none the system wrote. Thread-safe; found records are
    // kept (a container's name and image do not change), misses for two seconds.
    std::optional<ContainerRecord> find(std::string_view runtime, const std::string& id);

private:
    struct StorageList {
        struct stat seen {};
        std::map<std::string, ContainerRecord> by_id;
    };
    std::optional<ContainerRecord> read(std::string_view runtime, const std::string& id);
    std::optional<ContainerRecord> from_storage(const std::string& id);
    std::optional<ContainerRecord> from_storage_oci(const std::string& id);
    std::optional<ContainerRecord> from_docker(const std::string& id);
    std::optional<ContainerRecord> from_containerd(const std::string& id);
    const std::map<std::string, ContainerRecord>* storage_list(const std::string& root,
                                                               const std::string& relative);

    const ContainerRecordSources sources_;
    std::mutex mu_;
    LruMap<std::string, ContainerRecord> found_{4096};
    LruMap<std::string, std::chrono::steady_clock::time_point> missed_{1024};
    std::map<std::string, StorageList> lists_;  // parsed containers.json files, by path
};

// Pure parsers, exposed for tests. Each returns what it could read; malformed input gives
// empty results, never an exception.
// containers/storage's containers.json (or volatile-containers.json): records by id.
std::map<std::string, ContainerRecord> parse_storage_containers(std::string_view json_text);
// docker's config.v2.json.
std::optional<ContainerRecord> parse_docker_config(std::string_view json_text);
// An OCI runtime config.json's annotations, as CRI-O, containerd's CRI plugin and nerdctl
// write them.
std::optional<ContainerRecord> parse_oci_annotations(std::string_view json_text);

// Whether the regular file `root`/`relative` and every directory from `root` down to it could
// only have been written by `system_uid`, with no symlink below `root` (`root` is the
// configured, system location; what is above it is the system's by assumption).
bool written_by_system_only(const std::string& root, const std::string& relative,
                            uint32_t system_uid = 0);

}  // namespace sluice
