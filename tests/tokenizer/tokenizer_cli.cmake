# tests/tokenizer/tokenizer_cli.cmake - CTest test that runs the real `lfm2 tokenize` /
# `lfm2 detokenize` over every golden tokenizer case (shared/golden/tokenizer/cases.jsonl), the way
# the acceptance checker does, plus the CLI's error contracts. Include it after the lfm2 target
# exists, e.g. from tests/tokenizer/CMakeLists.txt:  include(${CMAKE_CURRENT_LIST_DIR}/tokenizer_cli.cmake)
if(TARGET lfm2)
  add_test(NAME tokenizer_cli_golden
           COMMAND ${LFM2_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/tokenizer_cli_check.py
                   --lfm2 $<TARGET_FILE:lfm2>
                   --golden ${LFM2_SHARED_DIR}/golden/tokenizer)
  set_tests_properties(tokenizer_cli_golden PROPERTIES TIMEOUT 600 LABELS "tokenizer;cli")
endif()
