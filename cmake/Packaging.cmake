# Debian packages (cpack -G DEB in the build directory; docs/deploy.md): dragonfly-dfdaemon (the
# daemon and the host's clients), dragonfly-scheduler and dragonfly-manager, each with the system
# user "dragonfly" (made by its postinst), its commented default config in /etc/dragonfly/ (a
# conffile, root:dragonfly 0640), a hardened Type=notify systemd unit, and a clean purge.
set(DF_DEPLOY ${PROJECT_SOURCE_DIR}/deploy)
include(GNUInstallDirs)

# component  package suffix  unit                          config          what purge removes
set(DF_PACKAGES
    "dfdaemon|dfdaemon|dfdaemon.service|dfdaemon.yaml|/var/lib/dragonfly/tasks /var/lib/dragonfly/proxy-ca.crt /var/lib/dragonfly/proxy-ca.key"
    "scheduler|scheduler|dragonfly-scheduler.service|scheduler.yaml|"
    "manager|manager|dragonfly-manager.service|manager.yaml|/var/lib/dragonfly/manager.db /var/lib/dragonfly/manager.db-wal /var/lib/dragonfly/manager.db-shm /var/lib/dragonfly/manager.db.root-password /var/lib/dragonfly/manager.crt /var/lib/dragonfly/manager.key")

install(TARGETS dfdaemon dfget dfctl dfinit dfcache dfcert RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT dfdaemon)
# The services' names are generic; on a host they are dragonfly-scheduler and dragonfly-manager.
# (Renamed, so stripped here: CPACK_STRIP_FILES strips what install(TARGETS) installs.)
foreach(service scheduler manager)
  install(PROGRAMS $<TARGET_FILE:${service}> DESTINATION ${CMAKE_INSTALL_BINDIR}
          RENAME dragonfly-${service} COMPONENT ${service})
  install(CODE "execute_process(COMMAND ${CMAKE_STRIP} --strip-unneeded
                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/dragonfly-${service}\")"
          COMPONENT ${service})
endforeach()
if(DF_CONSOLE)
  # Found by the manager at /usr/share/dragonfly/console (src/manager/console.cc).
  install(FILES ${PROJECT_BINARY_DIR}/console/index.html
          DESTINATION ${CMAKE_INSTALL_DATADIR}/dragonfly/console COMPONENT manager)
  install(DIRECTORY ${PROJECT_BINARY_DIR}/console/assets
          DESTINATION ${CMAKE_INSTALL_DATADIR}/dragonfly/console COMPONENT manager)
endif()

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL)
foreach(p ${DF_PACKAGES})
  string(REPLACE "|" ";" f "${p}")
  list(GET f 0 component)
  list(GET f 1 suffix)
  list(GET f 2 unit)
  list(GET f 3 config)
  list(LENGTH f n)
  set(state "")
  if(n GREATER 4)
    list(GET f 4 state)
  endif()
  list(APPEND CPACK_COMPONENTS_ALL ${component})
  install(FILES ${DF_DEPLOY}/systemd/${unit} DESTINATION lib/systemd/system COMPONENT ${component})
  install(FILES ${DF_DEPLOY}/config/${config} DESTINATION /etc/dragonfly COMPONENT ${component})
  install(FILES ${PROJECT_SOURCE_DIR}/docs/deploy.md ${DF_DEPLOY}/debian/copyright
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dragonfly-${suffix} COMPONENT ${component})
  # Maintainer scripts and conffiles, per package.
  set(DF_PACKAGE dragonfly-${suffix})
  set(DF_UNIT ${unit})
  set(DF_CONFIG ${config})
  set(DF_STATE "${state}")
  set(dir ${PROJECT_BINARY_DIR}/debian/${DF_PACKAGE})
  foreach(script postinst prerm postrm)
    configure_file(${DF_DEPLOY}/debian/${script}.in ${dir}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                    WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "/etc/dragonfly/${config}\n")
  if(component STREQUAL "dfdaemon")
    # The clients' configs (world-readable: no secrets in them).
    foreach(client dfget.yaml dfinit.yaml dfcert.yaml)
      install(FILES ${DF_DEPLOY}/config/${client} DESTINATION /etc/dragonfly COMPONENT dfdaemon)
      file(APPEND ${dir}/conffiles "/etc/dragonfly/${client}\n")
    endforeach()
  endif()
  string(TOUPPER ${component} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${DF_PACKAGE})
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA ${dir}/postinst ${dir}/prerm ${dir}/postrm
                                              ${dir}/conffiles)
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_STRICT_PERMISSION ON)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dragonfly)
set(CPACK_PACKAGE_VENDOR "dragonfly-cpp")
set(CPACK_PACKAGE_CONTACT "dragonfly-cpp maintainers <dragonfly-cpp@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENT_DFDAEMON_DESCRIPTION
    "Dragonfly P2P peer (dfdaemon) and its clients\n dfdaemon downloads tasks piece by piece from other peers or the origin, serves\n pieces, and runs the registry mirror and HTTP proxy for container runtimes;\n dfget, dfctl, dfcache, dfinit and dfcert use it or configure around it.")
set(CPACK_COMPONENT_SCHEDULER_DESCRIPTION
    "Dragonfly scheduler\n Tells each peer of the P2P network whom to trade pieces with.")
set(CPACK_COMPONENT_MANAGER_DESCRIPTION
    "Dragonfly manager and web console\n Clusters, dynamic config, preheat jobs (also for Harbor), users and tokens.")
include(CPack)
