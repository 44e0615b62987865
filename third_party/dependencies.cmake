# Finds system packages. Required: nlohmann_json, CLI11 (header-only; a folder can be
# given with SPROUT_JSON_INCLUDE / SPROUT_CLI11_INCLUDE), GoogleTest for tests.
# Optional, detected: CUDA (+cuDNN, NCCL), MPI, OpenBLAS, zlib, libturbojpeg, Google Benchmark.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)

set(SPROUT_JSON_INCLUDE "" CACHE PATH "Folder holding nlohmann/json.hpp when no package is installed")
set(SPROUT_CLI11_INCLUDE "" CACHE PATH "Folder holding CLI/CLI.hpp when no package is installed")

find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  find_path(SPROUT_JSON_DIR nlohmann/json.hpp HINTS ${SPROUT_JSON_INCLUDE} REQUIRED)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPROUT_JSON_DIR})
endif()

find_package(CLI11 QUIET CONFIG)
if(NOT TARGET CLI11::CLI11)
  find_path(SPROUT_CLI11_DIR CLI/CLI.hpp HINTS ${SPROUT_CLI11_INCLUDE} REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPROUT_CLI11_DIR})
endif()

# OpenBLAS: the cblas header and library.
find_path(SPROUT_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas openblas-pthread openblas64-pthread)
# Prefer Debian's OpenMP build of OpenBLAS: it shares sprout's OpenMP thread pool
# instead of spinning its own pthreads against it on small machines.
find_library(SPROUT_OPENBLAS_LIB NAMES openblas PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp
             /usr/lib/aarch64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
find_library(SPROUT_OPENBLAS_LIB NAMES openblas)
if(SPROUT_CBLAS_INCLUDE AND SPROUT_OPENBLAS_LIB)
  set(SPROUT_HAVE_OPENBLAS ON)
  add_library(sprout::openblas INTERFACE IMPORTED)
  set_target_properties(sprout::openblas PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPROUT_CBLAS_INCLUDE}
                        INTERFACE_LINK_LIBRARIES ${SPROUT_OPENBLAS_LIB})
else()
  set(SPROUT_HAVE_OPENBLAS OFF)
endif()

find_package(ZLIB QUIET)
set(SPROUT_HAVE_ZLIB ${ZLIB_FOUND})

find_path(SPROUT_TURBOJPEG_INCLUDE turbojpeg.h)
find_library(SPROUT_TURBOJPEG_LIB NAMES turbojpeg)
if(SPROUT_TURBOJPEG_INCLUDE AND SPROUT_TURBOJPEG_LIB)
  set(SPROUT_HAVE_JPEG ON)
  add_library(sprout::turbojpeg INTERFACE IMPORTED)
  set_target_properties(sprout::turbojpeg PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPROUT_TURBOJPEG_INCLUDE}
                        INTERFACE_LINK_LIBRARIES ${SPROUT_TURBOJPEG_LIB})
else()
  set(SPROUT_HAVE_JPEG OFF)
endif()

find_package(benchmark QUIET)
set(SPROUT_HAVE_BENCHMARK ${benchmark_FOUND})

# NVIDIA libraries as Python wheels install them (nvidia-cudnn-cu13, nvidia-nccl-cu13:
# site-packages/nvidia/<pkg>/{include,lib}), or under SPROUT_CUDNN_ROOT / SPROUT_NCCL_ROOT:
# the folders to search after the toolkit's.
function(sprout_wheel_dirs pkg root include_var lib_var)
  set(roots ${root})
  find_program(SPROUT_PYTHON3 python3)
  if(SPROUT_PYTHON3)
    execute_process(COMMAND ${SPROUT_PYTHON3} -c "import site, sysconfig; print(';'.join([sysconfig.get_paths()['purelib']] + site.getsitepackages()))"
                    OUTPUT_VARIABLE sites OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    foreach(s ${sites})
      file(GLOB found LIST_DIRECTORIES true ${s}/nvidia/${pkg} ${s}/nvidia/cu*/${pkg})
      list(APPEND roots ${found})
    endforeach()
  endif()
  set(inc)
  set(lib)
  foreach(r ${roots})
    list(APPEND inc ${r}/include)
    list(APPEND lib ${r}/lib ${r}/lib64)
  endforeach()
  set(${include_var} ${inc} PARENT_SCOPE)
  set(${lib_var} ${lib} PARENT_SCOPE)
endfunction()
set(SPROUT_CUDNN_ROOT "" CACHE PATH "A cuDNN folder with include/ and lib/ (e.g. a wheel's nvidia/cudnn) when it is not beside CUDA")
set(SPROUT_NCCL_ROOT "" CACHE PATH "An NCCL folder with include/ and lib/ when it is not beside CUDA")

# CUDA
set(SPROUT_WITH_CUDA OFF)
set(SPROUT_HAVE_CUDNN OFF)
set(SPROUT_HAVE_NCCL OFF)
if(NOT SPROUT_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES ${SPROUT_CUDA_ARCHITECTURES})
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(CMAKE_CUDA_STANDARD 17)
    set(SPROUT_WITH_CUDA ON)
    sprout_wheel_dirs(cudnn "${SPROUT_CUDNN_ROOT}" wheel_include wheel_lib)
    find_path(SPROUT_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include /usr/include/x86_64-linux-gnu
              ${wheel_include})
    # A wheel ships only the versioned library (libcudnn.so.9), so that name is tried too.
    find_library(SPROUT_CUDNN_LIB NAMES cudnn libcudnn.so.9 HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu
                 ${wheel_lib})
    if(SPROUT_CUDNN_INCLUDE AND SPROUT_CUDNN_LIB)
      set(SPROUT_HAVE_CUDNN ON)
      add_library(sprout::cudnn INTERFACE IMPORTED)
      set_target_properties(sprout::cudnn PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SPROUT_CUDNN_INCLUDE}
                            INTERFACE_LINK_LIBRARIES ${SPROUT_CUDNN_LIB})
    endif()
    # NCCL: found and reported (multi-GPU collectives build on it).
    sprout_wheel_dirs(nccl "${SPROUT_NCCL_ROOT}" nccl_include nccl_lib)
    find_path(SPROUT_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include ${nccl_include})
    find_library(SPROUT_NCCL_LIB NAMES nccl libnccl.so.2 HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu
                 ${nccl_lib})
    if(SPROUT_NCCL_INCLUDE AND SPROUT_NCCL_LIB)
      set(SPROUT_HAVE_NCCL ON)
    endif()
  elseif(SPROUT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SPROUT_CUDA=ON but no CUDA compiler was found")
  endif()
endif()

# MPI (data-parallel training over several processes): Open MPI's or MPICH's C API.
set(SPROUT_HAVE_MPI OFF)
if(NOT SPROUT_MPI STREQUAL "OFF")
  find_package(MPI QUIET COMPONENTS C)
  if(MPI_C_FOUND)
    set(SPROUT_HAVE_MPI ON)
  elseif(SPROUT_MPI STREQUAL "ON")
    message(FATAL_ERROR "SPROUT_MPI=ON but no MPI was found (Debian: apt-get install libopenmpi-dev openmpi-bin)")
  endif()
endif()

# GoogleTest: the package, or a source folder (Debian's /usr/src/googletest copied).
if(SPROUT_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    if(NOT SPROUT_GTEST_SOURCE AND EXISTS /usr/src/googletest)
      set(SPROUT_GTEST_SOURCE /usr/src/googletest)
    endif()
    if(NOT SPROUT_GTEST_SOURCE)
      message(FATAL_ERROR "GoogleTest not found: install libgtest-dev or set SPROUT_GTEST_SOURCE")
    endif()
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory(${SPROUT_GTEST_SOURCE} ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()
endif()
