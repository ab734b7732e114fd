# Builds a CO-RE BPF object and its bpftool skeleton.
# vmlinux.h is generated from the running kernel's BTF, so no kernel headers are needed.
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
find_program(BPF_CLANG NAMES clang REQUIRED)

set(SLUICE_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${SLUICE_BPF_GEN_DIR})

set(SLUICE_VMLINUX_H ${SLUICE_BPF_GEN_DIR}/vmlinux.h)
add_custom_command(
  OUTPUT ${SLUICE_VMLINUX_H}
  COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${SLUICE_VMLINUX_H}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${SLUICE_VMLINUX_H}.tmp ${SLUICE_VMLINUX_H}
  COMMENT "Generating vmlinux.h from /sys/kernel/btf/vmlinux"
  VERBATIM)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64")
  set(SLUICE_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
  set(SLUICE_BPF_ARCH arm64)
else()
  set(SLUICE_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

function(sluice_bpf_skeleton name source)
  set(obj ${SLUICE_BPF_GEN_DIR}/${name}.bpf.o)
  set(skel ${SLUICE_BPF_GEN_DIR}/${name}.skel.h)
  file(GLOB bpf_headers ${CMAKE_SOURCE_DIR}/bpf/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${SLUICE_BPF_ARCH}
            -Wall -Werror -I${SLUICE_BPF_GEN_DIR} -I${CMAKE_SOURCE_DIR}/bpf
            -c ${source} -o ${obj}
    DEPENDS ${source} ${bpf_headers} ${SLUICE_VMLINUX_H}
    COMMENT "Compiling BPF ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Generating skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel DEPENDS ${skel})
endfunction()
