# Locates the ONNX Runtime headers (required) and a default ONNX Runtime library path (optional;
# the library is loaded at run time). Sets ONNXRUNTIME_INCLUDE_DIR and HEPSIFT_ONNXRUNTIME_LIBRARY.
find_package(Python3 COMPONENTS Interpreter QUIET)

find_path(ONNXRUNTIME_INCLUDE_DIR onnxruntime_cxx_api.h
  HINTS ${ONNXRUNTIME_ROOT} ENV ONNXRUNTIME_ROOT ENV ONNXRUNTIME_INCLUDE_DIR
        ${CMAKE_CURRENT_SOURCE_DIR}/.deps/onnxruntime/usr/include
  PATH_SUFFIXES onnxruntime include/onnxruntime include/onnxruntime/core/session include)
option(HEPSIFT_FETCH_ONNXRUNTIME_HEADERS "Fetch the ONNX Runtime headers into .deps/ when none are found" ON)
if(NOT ONNXRUNTIME_INCLUDE_DIR AND HEPSIFT_FETCH_ONNXRUNTIME_HEADERS
   AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch_onnxruntime_headers.sh)
  execute_process(COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch_onnxruntime_headers.sh RESULT_VARIABLE _fetch_rc)
  unset(ONNXRUNTIME_INCLUDE_DIR CACHE)
  find_path(ONNXRUNTIME_INCLUDE_DIR onnxruntime_cxx_api.h
    HINTS ${CMAKE_CURRENT_SOURCE_DIR}/.deps/onnxruntime/usr/include PATH_SUFFIXES onnxruntime NO_DEFAULT_PATH)
endif()
if(NOT ONNXRUNTIME_INCLUDE_DIR)
  message(FATAL_ERROR "hepsift: the ONNX Runtime headers (onnxruntime_cxx_api.h) were not found. "
    "Install them (Debian 13: libonnxruntime-dev; conda: onnxruntime-cpp), run scripts/fetch_onnxruntime_headers.sh, "
    "or pass -DONNXRUNTIME_INCLUDE_DIR=/path/to/include/onnxruntime")
endif()
message(STATUS "hepsift: ONNX Runtime headers in ${ONNXRUNTIME_INCLUDE_DIR}")

if(NOT HEPSIFT_ONNXRUNTIME_LIBRARY)
  if(Python3_Interpreter_FOUND)
    execute_process(COMMAND ${Python3_EXECUTABLE} -c
      "import glob, os, onnxruntime; d = os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'); print(sorted(glob.glob(os.path.join(d, 'libonnxruntime.so*')))[-1])"
      OUTPUT_VARIABLE _ort_lib OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _ort_rc)
    if(_ort_rc EQUAL 0 AND EXISTS "${_ort_lib}")
      set(_hepsift_ort_default "${_ort_lib}")
    endif()
  endif()
  if(NOT _hepsift_ort_default)
    find_library(_hepsift_ort_found NAMES onnxruntime HINTS ${ONNXRUNTIME_ROOT} ENV ONNXRUNTIME_ROOT PATH_SUFFIXES lib lib64)
    if(_hepsift_ort_found)
      set(_hepsift_ort_default "${_hepsift_ort_found}")
    endif()
  endif()
  if(_hepsift_ort_default)
    set(HEPSIFT_ONNXRUNTIME_LIBRARY "${_hepsift_ort_default}" CACHE FILEPATH "Default ONNX Runtime library loaded at run time")
  endif()
endif()
message(STATUS "hepsift: default ONNX Runtime library: '${HEPSIFT_ONNXRUNTIME_LIBRARY}'")
