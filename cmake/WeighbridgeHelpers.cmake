include(${CMAKE_CURRENT_LIST_DIR}/Warnings.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/Layering.cmake)

# wb_add_module(NAME SRCS a.cc b.cc DEPS weighbridge::core PkgConfig::X ...)
# Creates weighbridge_<NAME> with the alias weighbridge::<NAME>. Weighbridge DEPS must follow
# cmake/Layering.cmake; other DEPS are external libraries.
function(wb_add_module name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  wb_check_layering(${name} "${ARG_DEPS};${ARG_PRIVATE_DEPS}")
  add_library(weighbridge_${name} STATIC ${ARG_SRCS})
  add_library(weighbridge::${name} ALIAS weighbridge_${name})
  target_include_directories(weighbridge_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                                 PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_features(weighbridge_${name} PUBLIC cxx_std_20)
  target_compile_options(weighbridge_${name} PRIVATE ${WB_WARNINGS})
  target_link_libraries(weighbridge_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# wb_add_test(MODULE SRCS x_test.cc ... [DEPS ...] [LABELS ...])
# One GoogleTest executable per module: unit_<MODULE>; every test is discovered into CTest.
function(wb_add_test module)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  set(target unit_${module})
  add_executable(${target} ${ARG_SRCS})
  target_link_libraries(${target} PRIVATE weighbridge::${module} ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  target_compile_options(${target} PRIVATE ${WB_WARNINGS})
  target_compile_definitions(${target} PRIVATE
    WB_SOURCE_DIR="${PROJECT_SOURCE_DIR}" WB_BINARY_DIR="${PROJECT_BINARY_DIR}"
    WB_SHARED_PCAPS="${WB_SHARED_PCAPS}")
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "unit;${module};${ARG_LABELS}")
endfunction()
