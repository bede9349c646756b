# The registry of our models, servers/models.json, read once for the whole
# build. servers/CMakeLists.txt adds each model's folder, tests/ runs the
# shared suites against each model's binary (and its own fixtures).
# (scripts/ci-sanitizers.sh and scripts/compose_services.py read the same
# file.) Adding a model is its folder plus one entry in the registry
# (docs/adding-a-model.md).
#
# Included by the root CMakeLists.txt, so every folder sees:
#   IOMODELS_MODELS                  the names, in the registry's order
#   IOMODELS_MODEL_<name>_BINARY     the executable its folder builds
#   IOMODELS_MODEL_<name>_FIXTURES   its own black-box fixtures (a list, maybe empty)
#   IOMODELS_FIXTURES                every model's fixtures, each once
set(_registry_file ${CMAKE_CURRENT_LIST_DIR}/models.json)
# Editing the registry reconfigures the build.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_registry_file})
file(READ ${_registry_file} _registry)

set(IOMODELS_MODELS)
set(IOMODELS_FIXTURES)
string(JSON _count LENGTH "${_registry}" models)
math(EXPR _last "${_count} - 1")
foreach(_i RANGE ${_last})
  string(JSON _name GET "${_registry}" models ${_i} name)
  if(NOT EXISTS ${CMAKE_CURRENT_LIST_DIR}/${_name}/CMakeLists.txt)
    message(FATAL_ERROR "servers/models.json lists the model '${_name}', "
                        "but servers/${_name}/CMakeLists.txt does not exist")
  endif()
  list(APPEND IOMODELS_MODELS ${_name})
  string(JSON IOMODELS_MODEL_${_name}_BINARY GET "${_registry}" models ${_i} binary)
  # "fixture": null, one name, or a list of names.
  set(_fixtures)
  string(JSON _type TYPE "${_registry}" models ${_i} fixture)
  if(_type STREQUAL "STRING")
    string(JSON _fixtures GET "${_registry}" models ${_i} fixture)
  elseif(_type STREQUAL "ARRAY")
    string(JSON _n LENGTH "${_registry}" models ${_i} fixture)
    math(EXPR _n_last "${_n} - 1")
    foreach(_j RANGE ${_n_last})
      string(JSON _fixture GET "${_registry}" models ${_i} fixture ${_j})
      list(APPEND _fixtures ${_fixture})
    endforeach()
  endif()
  set(IOMODELS_MODEL_${_name}_FIXTURES ${_fixtures})
  list(APPEND IOMODELS_FIXTURES ${_fixtures})
endforeach()
list(REMOVE_DUPLICATES IOMODELS_FIXTURES)
