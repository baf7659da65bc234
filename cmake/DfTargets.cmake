# Shared compile settings for every target of the project.
set(DF_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
    -Wimplicit-fallthrough -Wno-missing-field-initializers)
if(DF_WERROR)
  list(APPEND DF_WARNINGS -Werror)
endif()
if(DF_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
if(DF_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # Coverage for the libFuzzer targets in fuzz/ (the libraries they call included).
    set(DF_FUZZ ON)
    add_compile_options(-fsanitize=fuzzer-no-link)
  endif()
endif()

# df_library(NAME SOURCES ... DEPS ...)
function(df_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE ${DF_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# df_binary(NAME SOURCES ... DEPS ...)
function(df_binary name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${DF_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# df_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
function(df_test name)
  if(NOT DF_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${DF_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest_main GTest::gmock)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()

# `npm ci` needs npm (scripts/install-deps.sh installs it); DF_NPM is empty without it.
find_program(DF_NPM npm)
# df_npm_ci(DIR STAMP WHAT): `npm ci` in DIR (its package-lock.json), recorded by STAMP.
function(df_npm_ci dir stamp what)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${DF_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    WORKING_DIRECTORY ${dir}
    DEPENDS ${dir}/package.json ${dir}/package-lock.json
    COMMENT "${what}: npm ci (package-lock.json)"
    VERBATIM)
endfunction()

# df_embed_text(OUT_VAR FILE NAMESPACE FUNCTION): generates a source defining
# `std::string_view NAMESPACE::FUNCTION()` returning FILE's text, rebuilt when FILE changes; the
# source's path goes into OUT_VAR (add it to a library's SOURCES).
function(df_embed_text out_var file ns fn)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${fn}.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out} -DNS=${ns} -DNAME=${fn}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    COMMENT "Embedding ${file}"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
