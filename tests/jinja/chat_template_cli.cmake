# tests/jinja/chat_template_cli.cmake - CTest registrations that drive the real `lfm2 render`
# CLI (include from tests/jinja/CMakeLists.txt: include(chat_template_cli.cmake)).
#   chat_template_render_cli: the 47 public golden chat cases, exactly as the acceptance checker
#     runs them (one model dir per template, JSON files, --tools, --no-generation-prompt).
#   chat_template_differential: random conversations for the 6 golden templates, whitespace-control
#     stress templates and one-feature templates, rendered by Python jinja2 in HF's setup and by
#     `lfm2 render`; skipped (exit 77) when python3-jinja2 is not installed.
if(TARGET lfm2)
  add_test(NAME chat_template_render_cli
           COMMAND ${LFM2_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/render_cli_test.py
                   --lfm2 $<TARGET_FILE:lfm2> --shared ${LFM2_SHARED_DIR})
  add_test(NAME chat_template_differential
           COMMAND ${LFM2_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/jinja_differential.py
                   --lfm2 $<TARGET_FILE:lfm2> --shared ${LFM2_SHARED_DIR})
  set_tests_properties(chat_template_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
