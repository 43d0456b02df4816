# Chat templates: the Jinja engine (jinja_*_test.cpp, golden outputs from Python's jinja2 in
# jinja_golden.json) and the ChatTemplate layer and `autoglm template` (chat_template_test.cpp).
autoglm_test(jinja_test
  ${CMAKE_CURRENT_LIST_DIR}/jinja_golden_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jinja_engine_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chat_template_test.cpp
)
target_link_libraries(jinja_test PRIVATE autoglm_jinja nlohmann_json::nlohmann_json)
add_dependencies(jinja_test autoglm)  # the command test runs the built binary
