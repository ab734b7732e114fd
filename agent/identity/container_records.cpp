#include "agent/identity/container_records.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "agent/identity/root_only_access.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr size_t kMaxRecordFileBytes = 64ull * 1024 * 1024;  // a host with many containers
constexpr auto kMissTtl = std::chrono::seconds(2);

std::string string_at(const json& object, std::string_view key) {
    if (!object.is_object()) return "";
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The bytes of `root`/`relative`, only if the file and every directory from `root` down are the
// system's alone.
std::optional<std::string> read_system_file(const std::string& root, const std::string& relative,
                                            uint32_t system_uid, struct stat* seen = nullptr) {
    if (!written_by_system_only(root, relative, system_uid)) return std::nullopt;
    const std::string path = root + "/" + relative;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    std::string text;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<size_t>(st.st_size) <= kMaxRecordFileBytes) {
        text.resize(static_cast<size_t>(st.st_size));
        size_t got = 0;
        while (got < text.size()) {
            const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
            if (n <= 0) break;
            got += static_cast<size_t>(n);
        }
        text.resize(got);
        if (seen) *seen = st;
    }
    ::close(fd);
    return text;
}

// Names of the subdirectories of `dir` that end with `suffix` (a storage driver's
// "<driver>-containers"; a containerd namespace, suffix "").
std::vector<std::string> subdirectories(const std::string& dir, std::string_view suffix) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (const dirent* entry = ::readdir(d)) {
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        if (name.size() < suffix.size() || name.substr(name.size() - suffix.size()) != suffix)
            continue;
        if (entry->d_type != DT_DIR) continue;
        out.emplace_back(name);
    }
    ::closedir(d);
    return out;
}

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
           a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

bool written_by_system_only(const std::string& root, const std::string& relative,
                            uint32_t system_uid) {
    if (root.empty() || relative.empty() || relative.front() == '/' ||
        relative.find("..") != std::string::npos)
        return false;
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        !writable_only_by_system(st, system_uid))
        return false;
    for (size_t slash = relative.find('/'); slash != std::string::npos;
         slash = relative.find('/', slash + 1)) {
        const std::string dir = root + "/" + relative.substr(0, slash);
        if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
            !writable_only_by_system(st, system_uid))
            return false;
    }
    const std::string path = root + "/" + relative;
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           writable_only_by_system(st, system_uid);
}

std::map<std::string, ContainerRecord> parse_storage_containers(std::string_view json_text) {
    std::map<std::string, ContainerRecord> out;
    const json list = json::parse(json_text, nullptr, false);
    if (!list.is_array()) return out;
    for (const json& entry : list) {
        const std::string id = string_at(entry, "id");
        if (id.empty()) continue;
        ContainerRecord record;
        if (const auto names = entry.find("names"); names != entry.end() && names->is_array() &&
                                                    !names->empty() && names->front().is_string())
            record.name = names->front().get<std::string>();
        // "metadata" is itself JSON, as a string: what podman and CRI-O note about it.
        const json metadata = json::parse(string_at(entry, "metadata"), nullptr, false);
        if (record.name.empty()) record.name = string_at(metadata, "name");
        record.image = string_at(metadata, "image-name");
        record.pod_name = string_at(metadata, "pod-name");
        // CRI-O names its containers k8s_<container>_<pod>_<namespace>_<uid>_<attempt>; its
        // metadata keeps the container's own name apart.
        if (const std::string own = string_at(metadata, "metadata-name"); !own.empty())
            record.name = own;
        out.emplace(id, std::move(record));
    }
    return out;
}

std::optional<ContainerRecord> parse_docker_config(std::string_view json_text) {
    const json config = json::parse(json_text, nullptr, false);
    if (!config.is_object()) return std::nullopt;
    ContainerRecord record;
    record.name = string_at(config, "Name");
    if (!record.name.empty() && record.name.front() == '/') record.name.erase(0, 1);
    if (const auto inner = config.find("Config"); inner != config.end() && inner->is_object()) {
        record.image = string_at(*inner, "Image");
        if (const auto labels = inner->find("Labels");
            labels != inner->end() && labels->is_object()) {
            record.pod_name = string_at(*labels, "io.kubernetes.pod.name");
            record.pod_namespace = string_at(*labels, "io.kubernetes.pod.namespace");
            if (const std::string own = string_at(*labels, "io.kubernetes.container.name");
                !own.empty())
                record.name = own;
        }
    }
    if (record == ContainerRecord{}) return std::nullopt;
    return record;
}

std::optional<ContainerRecord> parse_oci_annotations(std::string_view json_text) {
    const json config = json::parse(json_text, nullptr, false);
    if (!config.is_object()) return std::nullopt;
    const auto annotations = config.find("annotations");
    if (annotations == config.end() || !annotations->is_object()) return std::nullopt;
    const json& a = *annotations;
    auto first = [&](std::initializer_list<std::string_view> keys) {
        for (std::string_view key : keys)
            if (std::string value = string_at(a, key); !value.empty()) return value;
        return std::string();
    };
    ContainerRecord record;
    record.name =
        first({"io.kubernetes.container.name", "io.kubernetes.cri.container-name", "nerdctl/name"});
    record.image = first({"io.kubernetes.cri-o.ImageName", "io.kubernetes.cri.image-name",
                          "io.kubernetes.cri-o.Image"});
    record.pod_name = first({"io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"});
    record.pod_namespace =
        first({"io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace"});
    if (record == ContainerRecord{}) return std::nullopt;
    return record;
}

ContainerRecords::ContainerRecords(ContainerRecordSources sources) : sources_(std::move(sources)) {}

std::optional<ContainerRecord> ContainerRecords::find(std::string_view runtime,
                                                      const std::string& id) {
    if (id.empty()) return std::nullopt;
    const std::string key = std::string(runtime) + "/" + id;
    std::lock_guard lock(mu_);
    if (const ContainerRecord* known = found_.find(key)) return *known;
    const auto now = std::chrono::steady_clock::now();
    if (const auto* missed = missed_.find(key); missed && now - *missed < kMissTtl)
        return std::nullopt;
    std::optional<ContainerRecord> record = read(runtime, id);
    if (record)
        found_.put(key, *record);
    else
        missed_.put(key, now);
    return record;
}

std::optional<ContainerRecord> ContainerRecords::read(std::string_view runtime,
                                                      const std::string& id) {
    if (runtime == "podman") return from_storage(id);
    if (runtime == "cri-o") {
        if (auto record = from_storage_oci(id)) return record;
        return from_storage(id);
    }
    if (runtime == "docker") return from_docker(id);
    if (runtime == "containerd") return from_containerd(id);
    if (runtime == "cri") {  // a kubelet cgroupfs path names no runtime: ask each
        if (auto record = from_storage_oci(id)) return record;
        if (auto record = from_containerd(id)) return record;
        return from_docker(id);
    }
    return std::nullopt;
}

const std::map<std::string, ContainerRecord>* ContainerRecords::storage_list(
    const std::string& root, const std::string& relative) {
    const std::string path = root + "/" + relative;
    struct stat now {};
    if (::stat(path.c_str(), &now) != 0) return nullptr;
    const auto it = lists_.find(path);
    if (it != lists_.end() && same_file(it->second.seen, now)) return &it->second.by_id;
    StorageList list;
    const std::optional<std::string> text =
        read_system_file(root, relative, sources_.system_uid, &list.seen);
    if (!text) return nullptr;
    list.by_id = parse_storage_containers(*text);
    return &(lists_[path] = std::move(list)).by_id;
}

std::optional<ContainerRecord> ContainerRecords::from_storage(const std::string& id) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const std::string& root : sources_.storage_roots)
        for (const std::string& dir : subdirectories(root, "-containers"))
            files.emplace_back(root, dir + "/containers.json");
    for (const std::string& root : sources_.storage_run_roots)
        for (const std::string& dir : subdirectories(root, "-containers"))
            files.emplace_back(root, dir + "/volatile-containers.json");
    for (const auto& [root, relative] : files) {
        const auto* list = storage_list(root, relative);
        if (!list) continue;
        if (const auto it = list->find(id); it != list->end()) return it->second;
    }
    return std::nullopt;
}

std::optional<ContainerRecord> ContainerRecords::from_storage_oci(const std::string& id) {
    for (const std::string& root : sources_.storage_run_roots)
        for (const std::string& dir : subdirectories(root, "-containers"))
            if (auto text = read_system_file(root, dir + "/" + id + "/userdata/config.json",
                                             sources_.system_uid))
                if (auto record = parse_oci_annotations(*text)) return record;
    return std::nullopt;
}

std::optional<ContainerRecord> ContainerRecords::from_docker(const std::string& id) {
    const auto text = read_system_file(sources_.docker_root, "containers/" + id + "/config.v2.json",
                                       sources_.system_uid);
    return text ? parse_docker_config(*text) : std::nullopt;
}

std::optional<ContainerRecord> ContainerRecords::from_containerd(const std::string& id) {
    for (const std::string& ns : subdirectories(sources_.containerd_tasks, ""))
        if (auto text = read_system_file(sources_.containerd_tasks, ns + "/" + id + "/config.json",
                                         sources_.system_uid))
            if (auto record = parse_oci_annotations(*text)) return record;
    return std::nullopt;
}

}  // namespace sluice
