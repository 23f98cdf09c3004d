# Writes version.h with the checkout's commit; run at every build (see the
# slim_version target in CMakeLists.txt), so the commit slim reports is the
# one it was built from, not the one of the last configure. configure_file
# leaves the file alone when nothing changed, so nothing recompiles then.
# Inputs: SOURCE_DIR, OUTPUT, PROJECT_VERSION.
execute_process(COMMAND git rev-parse --short HEAD
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE SLIM_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT SLIM_GIT_COMMIT)
    set(SLIM_GIT_COMMIT unknown)
endif()
configure_file(${SOURCE_DIR}/src/version.h.in ${OUTPUT} @ONLY)
