# fleetops_zarrw: streaming zarr v2 writer (structured 1-D arrays, Blosc).
# Included from io/CMakeLists.txt; paths are relative to this file so the
# fragment works whichever directory includes it.
add_library(fleetops_zarrw STATIC ${CMAKE_CURRENT_LIST_DIR}/zarr_writer.c)
target_include_directories(fleetops_zarrw PUBLIC ${CMAKE_CURRENT_LIST_DIR})
# cJSON is in the public header; Blosc and threads are implementation.
target_link_libraries(fleetops_zarrw
  PUBLIC PkgConfig::CJSON
  PRIVATE PkgConfig::BLOSC Threads::Threads)
