# fleetopsd: the data-plane program (tools/fleetopsd.c).
add_executable(fleetopsd ${CMAKE_CURRENT_LIST_DIR}/fleetopsd.c)
target_link_libraries(fleetopsd PRIVATE fleetops_io fleetops_detectors fleetops_core)
