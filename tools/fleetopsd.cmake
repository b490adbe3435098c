# fleetopsd: the data-plane program (tools/fleetopsd/).
add_executable(fleetopsd
  ${CMAKE_CURRENT_LIST_DIR}/fleetopsd/main.c
  ${CMAKE_CURRENT_LIST_DIR}/fleetopsd/detect.c
  ${CMAKE_CURRENT_LIST_DIR}/fleetopsd/pipeline.c)
target_include_directories(fleetopsd PRIVATE ${CMAKE_CURRENT_LIST_DIR}/fleetopsd)
target_link_libraries(fleetopsd PRIVATE fleetops_io fleetops_detectors fleetops_core)
