# Read by cpack once per generator: the systemd unit directory each distribution family expects
# (the component installed next to "runtime"), and the file names docs/architecture.md (Contracts) fixes
# (sluice_<version>_<arch>.deb, sluice-<version>-1.<arch>.rpm).
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_INSTALL_CMAKE_PROJECTS "${CPACK_SLUICE_BUILD_DIR};sluice;runtime;/;${CPACK_SLUICE_BUILD_DIR};sluice;deb;/")
  set(CPACK_DEBIAN_FILE_NAME "sluice_${CPACK_PACKAGE_VERSION}_${CPACK_DEBIAN_PACKAGE_ARCHITECTURE}.deb")
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_INSTALL_CMAKE_PROJECTS "${CPACK_SLUICE_BUILD_DIR};sluice;runtime;/;${CPACK_SLUICE_BUILD_DIR};sluice;rpm;/")
  set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
endif()
