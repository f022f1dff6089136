#!/usr/bin/env bash
# Fills a seed corpus directory for one libFuzzer target from the shared test data.
#   tools/fuzz_seeds.sh FUZZER_NAME CORPUS_DIR
set -euo pipefail
name=$1
corpus=$2
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${LFM2_SHARED_DIR:-$here/../shared}
mkdir -p "$corpus"
case "$name" in
  fuzz_checkpoint)
    i=0
    for f in "$shared"/golden/*/model/*.json "$shared"/lfm2-tokenizer/config.json; do
      cp "$f" "$corpus/json_$((i++))"
    done
    for f in "$shared"/golden/*/model/*.safetensors; do
      # The header plus a little data keeps seeds small.
      n=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
      head -c $((8 + n + 64)) "$f" > "$corpus/st_$((i++))"
    done
    ;;
  fuzz_http_request)
    # Byte 0: split seed, byte 1: limits (odd = small), then the bytes a client sends.
    i=0
    for request in \
      'GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n' \
      'POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"messages":1}' \
      'POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{"a"\r\n3\r\n:1}\r\n0\r\nT: v\r\n\r\n' \
      'GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n' \
      'POST /tokenize HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}' \
      'OPTIONS * HTTP/1.1\r\nHost: a\r\nOrigin: http://x\r\n\r\n' \
      'GET http://h:1/x?y=1 HTTP/1.1\nHost: a\n\n'; do
      printf '\007\000'"$request" > "$corpus/http_$((i++))"
      printf '\003\001'"$request" > "$corpus/http_$((i++))"
    done
    ;;
  fuzz_openai_request)
    i=0
    while IFS= read -r body; do
      printf '%s' "$body" > "$corpus/body_$((i++))"
    done <<'BODIES'
{"model":"lfm2","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":16,"temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,"repetition_penalty":1.1,"presence_penalty":0.5,"frequency_penalty":0.2,"seed":7,"stop":["\n\n","END"],"logit_bias":{"10":-100,"7":5},"logprobs":true,"top_logprobs":3,"n":1,"stream":true,"stream_options":{"include_usage":true}}
{"messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"user","content":"What is the weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"pkg.get_weather","arguments":"{\"city\": \"Paris\", \"days\": [1, {\"k\": null}], \"ok\": true}"}}]},{"role":"tool","tool_call_id":"c1","content":"{\"t\": 20}"}],"tools":[{"type":"function","function":{"name":"pkg.get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":{"type":"function","function":{"name":"pkg.get_weather"}}}
{"messages":[{"role":"user","content":"json"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"integer"},"b":{"enum":["x","y"]}},"required":["a"],"additionalProperties":false},"strict":true}},"max_completion_tokens":50}
{"messages":[{"role":"user","content":"json"}],"response_format":{"type":"json_object"},"tool_choice":"none"}
{"prompt":"Once upon a time","max_tokens":8,"echo":true,"logprobs":2,"best_of":1,"stop":"."}
{"prompt":["a","b",[1,2,3]],"max_tokens":4,"stream":true}
{"prompt":[1,2,3,4],"seed":-5,"temperature":0}
{"messages":"x","prompt":5,"temperature":"hot","n":2}
BODIES
    ;;
  fuzz_request_path)
    # Byte 0: route (low 3 bits; 0 chat, 1 apply-template, 2 completions, 3 tokenize,
    # 4 detokenize) + 0x80 to expand '@'; then (expanded) 2 size bytes, a shape byte, the body.
    i=0
    while IFS= read -r seed; do
      printf "$seed" > "$corpus/request_$((i++))"
    done <<'SEEDS'
\000{"messages":[{"role":"user","content":"And it came to pass <|im_end|>"}],"max_tokens":3,"temperature":0}
\005{"messages":[{"role":"user","content":"x"}],"max_tokens":2,"stream":true,"stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":2}
\001{"messages":[{"role":"system","content":"s"},{"role":"user","content":"<|im_start|>u"}],"return_tokens":true}
\002{"prompt":"In the beginning","max_tokens":3,"echo":true}
\003{"content":"<|im_end|> and it came","with_pieces":true,"parse_special":false}
\004{"tokens":[1,2,3,400]}
\200\000\040\000{"messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":@}}]}]}
\200\000\040\005{"messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":@}}]}]}
\200\001\000\001{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"p":@}}}}]}
\200\000\020\001{"messages":[{"role":"user","content":"x"}],"max_tokens":2,"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"p":@}}}}}
\201\000\100\004{"messages":[{"role":"user","content":"x"}],"tools":@}
\200\040\000\002{"messages":[{"role":"user","content":"x"}],"stop":@}
\204\010\000\003{"tokens":@}
\200\000\030\000@
SEEDS
    ;;
  fuzz_tokenizer)
    [ -x "$here/tools/fuzz_seeds_$name.sh" ] && "$here/tools/fuzz_seeds_$name.sh" "$corpus"
    ;;
  fuzz_chat_template)
    # The golden templates and the plain LFM2 template, as they are.
    i=0
    for f in "$shared"/golden/chat/templates/*.jinja "$shared"/lfm2-tokenizer/chat_template.jinja; do
      [ -f "$f" ] && cp "$f" "$corpus/template_$((i++))"
    done
    ;;
  fuzz_json_schema)
    # [schema JSON | 'R' regex] NUL [walk bytes].
    i=0
    while IFS= read -r schema; do
      { printf '%s' "$schema"; printf '\000\001\007\023\061\177\200\377\011\042'; } > "$corpus/schema_$((i++))"
    done <<'SCHEMAS'
{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":8},"age":{"type":"integer","minimum":0,"maximum":130},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":3}},"required":["name"],"additionalProperties":false}
{"anyOf":[{"type":"number","exclusiveMinimum":-1.5,"multipleOf":0.5},{"type":"null"},{"const":{"k":[1,true]}}]}
{"type":"string","pattern":"^[a-z]{2,4}-\\d+$","format":"date"}
{"$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}
{"type":"array","prefixItems":[{"type":"boolean"},{"type":"string","format":"uuid"}],"items":false,"minItems":2}
{}
R(ab|c+)?[0-9]{1,3}\.x*
SCHEMAS
    ;;
  fuzz_tool_calls)
    # [chunk sizes byte] [model output text].
    i=0
    while IFS= read -r text; do
      printf '\005%s' "$text" > "$corpus/calls_$((i++))"
      printf '\377%s' "$text" > "$corpus/calls_$((i++))"
    done <<'TEXTS'
<|tool_call_start|>[get_weather(city="Paris", days=3)]<|tool_call_end|>
Checking.<|tool_call_start|>[pkg.search(query='it\'s', limit=None, opts={"a": [1, 2.5, True]}), f()]<|tool_call_end|> Done.
<|tool_call_start|>[{"name": "f", "arguments": {"x": "\u00e9", "y": null}}]<|tool_call_end|>
<|tool_call_start|>[f(1, -2e3, "x", [None, False])]<|tool_call_end|>
<|tool_call_start|>[broken(a=<|tool_call_end|>
TEXTS
    ;;
esac
# Unknown fuzzers run from an empty corpus.
exit 0
