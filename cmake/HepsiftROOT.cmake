# Provides the imported target hepsift::ROOT (RDataFrame and what it needs).
# A full ROOT installation is found with find_package(ROOT); the PyPI wheel of ROOT ships a
# ROOTConfig.cmake that points at a build-time prefix, so there the include and library
# folders are taken from the Python module instead.
if(TARGET hepsift::ROOT)
  return()
endif()
set(_hepsift_root_libs Core RIO Tree Hist MathCore Imt Thread ROOTVecOps ROOTDataFrame ROOTNTuple)
find_package(ROOT QUIET COMPONENTS ${_hepsift_root_libs})
if(ROOT_FOUND AND ROOT_INCLUDE_DIRS)
  list(GET ROOT_INCLUDE_DIRS 0 _hepsift_root_inc)
endif()
if(ROOT_FOUND AND EXISTS "${_hepsift_root_inc}/ROOT/RDataFrame.hxx")
  add_library(hepsift::ROOT INTERFACE IMPORTED)
  set(_hepsift_root_targets)
  foreach(_l ${_hepsift_root_libs})
    if(TARGET ROOT::${_l})
      list(APPEND _hepsift_root_targets ROOT::${_l})
    endif()
  endforeach()
  set_target_properties(hepsift::ROOT PROPERTIES INTERFACE_LINK_LIBRARIES "${_hepsift_root_targets}")
  set(HEPSIFT_ROOT_FOUND TRUE)
else()
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_Interpreter_FOUND)
    execute_process(COMMAND ${Python3_EXECUTABLE} -c
      "import importlib.util, os; s = importlib.util.find_spec('ROOT'); print(os.path.dirname(s.origin))"
      OUTPUT_VARIABLE _hepsift_root_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
  endif()
  if(_hepsift_root_dir AND EXISTS "${_hepsift_root_dir}/include/ROOT/RDataFrame.hxx")
    add_library(hepsift::ROOT INTERFACE IMPORTED)
    set(_paths)
    foreach(_l ${_hepsift_root_libs})
      list(APPEND _paths "${_hepsift_root_dir}/lib/lib${_l}.so")
    endforeach()
    set_target_properties(hepsift::ROOT PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${_hepsift_root_dir}/include"
      INTERFACE_COMPILE_OPTIONS "-fsized-deallocation"
      INTERFACE_LINK_LIBRARIES "${_paths};Threads::Threads"
      INTERFACE_LINK_OPTIONS "-Wl,--allow-shlib-undefined;-Wl,-rpath,${_hepsift_root_dir}/lib")
    set(HEPSIFT_ROOT_FOUND TRUE)
    message(STATUS "hepsift: ROOT from the Python module in ${_hepsift_root_dir}")
  else()
    set(HEPSIFT_ROOT_FOUND FALSE)
  endif()
endif()
