# The one table of allowed module edges (STYLE.md §1). Data flows left to right and so do
# dependencies: app -> {store, telemetry, alerting, flowexport} -> analytics -> capture -> core.
# wb_add_module() checks each target's DEPS against this table at configure time, and
# scripts/lint checks the #include lines against it.
set(WB_LAYER_core "")
set(WB_LAYER_capture "core")
set(WB_LAYER_analytics "capture;core")
set(WB_LAYER_store "analytics;capture;core")
set(WB_LAYER_telemetry "analytics;capture;core")
set(WB_LAYER_alerting "analytics;capture;core")
set(WB_LAYER_flowexport "analytics;capture;core")  # IPFIX export of our flow records
set(WB_LAYER_capture_dpdk "capture;core")
set(WB_LAYER_app "store;telemetry;alerting;flowexport;analytics;capture;capture_dpdk;core")

function(wb_check_layering module deps)
  if(NOT DEFINED WB_LAYER_${module})
    message(FATAL_ERROR "Layering: module '${module}' is not in cmake/Layering.cmake")
  endif()
  foreach(dep IN LISTS deps)
    if(dep MATCHES "^weighbridge::(.+)$")
      set(name "${CMAKE_MATCH_1}")
      if(NOT name IN_LIST WB_LAYER_${module})
        message(FATAL_ERROR "Layering: '${module}' may not depend on '${name}' (cmake/Layering.cmake)")
      endif()
    endif()
  endforeach()
endfunction()
