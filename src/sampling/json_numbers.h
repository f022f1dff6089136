// sampling/json_numbers.h - JSON number and integer fragments for the schema compiler, with
// optional bounds compiled into digit-range automata (no leading zeros, bounded digit counts).
#pragma once

#include <cstdint>

#include "sampling/json_grammar.h"

namespace lfm2::json_grammar {

struct DigitLimits {
  int integer_digits = 16;   // 1..18
  int fraction_digits = 16;  // 1..
  int exponent_digits = 3;   // 1..
};

struct NumberBound {
  bool present = false;
  int64_t value = 0;
  bool exclusive = false;
};

// Integers in [lo, hi] (both within +-(10^integer_digits - 1)); Nothing when lo > hi.
Fragment IntegerFragment(ByteNfa& nfa, int64_t lo, int64_t hi);

// Any JSON number within the digit limits: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
Fragment NumberFragment(ByteNfa& nfa, const DigitLimits& limits);

// Numbers between integer bounds (each inclusive or exclusive), written without exponent.
Fragment BoundedNumberFragment(ByteNfa& nfa, const NumberBound& lower, const NumberBound& upper,
                               const DigitLimits& limits);

}  // namespace lfm2::json_grammar
