// sampling/json_numbers.cc - digit-range automata: a decimal range [x, y] of equal-length digit
// strings splits on the first digit into "x0 then [x', 99..]", "(x0, y0) then any" and "y0 then
// [00.., y']"; ranges of different lengths are unions of equal-length ones.
#include "sampling/json_numbers.h"

#include <string>

namespace lfm2::json_grammar {
namespace {

uint64_t PowerOfTen(int n) {
  uint64_t value = 1;
  for (int i = 0; i < n; ++i) value *= 10;
  return value;
}

int DigitCount(uint64_t value) {
  int n = 1;
  while (value >= 10) value /= 10, ++n;
  return n;
}

class DigitBuilder {
 public:
  explicit DigitBuilder(ByteNfa& nfa) : nfa_(nfa) {}

  // `count` digits from `from` to `to`.
  void AnyDigits(int from, int to, size_t count) {
    if (count == 0) {
      nfa_.AddEpsilon(from, to);
      return;
    }
    int current = from;
    for (size_t i = 0; i < count; ++i) {
      const int next = i + 1 == count ? to : nfa_.AddState();
      nfa_.AddBytes(current, '0', '9', next);
      current = next;
    }
  }

  // Digit strings d with x <= d <= y (x, y of equal length, leading zeros allowed).
  void Fixed(int from, int to, std::string_view x, std::string_view y) {
    const size_t n = x.size();
    if (n == 0) {
      nfa_.AddEpsilon(from, to);
      return;
    }
    const auto x0 = static_cast<uint8_t>(x[0]), y0 = static_cast<uint8_t>(y[0]);
    if (n == 1) {
      nfa_.AddBytes(from, x0, y0, to);
      return;
    }
    const std::string_view xs = x.substr(1), ys = y.substr(1);
    if (x0 == y0) {
      const int mid = nfa_.AddState();
      nfa_.AddBytes(from, x0, x0, mid);
      Fixed(mid, to, xs, ys);
      return;
    }
    if (xs.find_first_not_of('0') == std::string_view::npos &&
        ys.find_first_not_of('9') == std::string_view::npos) {
      const int mid = nfa_.AddState();
      nfa_.AddBytes(from, x0, y0, mid);
      AnyDigits(mid, to, n - 1);
      return;
    }
    const int low = nfa_.AddState();
    nfa_.AddBytes(from, x0, x0, low);
    Fixed(low, to, xs, std::string(n - 1, '9'));
    if (y0 - x0 >= 2) {
      const int mid = nfa_.AddState();
      nfa_.AddBytes(from, static_cast<uint8_t>(x0 + 1), static_cast<uint8_t>(y0 - 1), mid);
      AnyDigits(mid, to, n - 1);
    }
    const int high = nfa_.AddState();
    nfa_.AddBytes(from, y0, y0, high);
    Fixed(high, to, std::string(n - 1, '0'), ys);
  }

  // Non-negative integers in [a, b] without leading zeros.
  void Magnitude(int from, int to, uint64_t a, uint64_t b) {
    if (a > b) return;
    for (int length = DigitCount(a); length <= DigitCount(b); ++length) {
      const uint64_t lo = std::max<uint64_t>(a, length == 1 ? 0 : PowerOfTen(length - 1));
      const uint64_t hi = std::min<uint64_t>(b, PowerOfTen(length) - 1);
      if (lo <= hi) Fixed(from, to, std::to_string(lo), std::to_string(hi));
    }
  }

  enum class FractionKind { kAny, kZero, kNonZero };

  // The part after the integer digits: optional for kAny / kZero, mandatory for kNonZero.
  void Fraction(int from, int to, FractionKind kind, int max_digits) {
    if (kind != FractionKind::kNonZero) nfa_.AddEpsilon(from, to);
    const int dot = nfa_.AddState();
    nfa_.AddBytes(from, '.', '.', dot);
    // States by (digits so far, seen a non-zero digit).
    std::vector<int> plain(max_digits + 1), nonzero(max_digits + 1);
    plain[0] = dot;
    for (int i = 1; i <= max_digits; ++i) plain[i] = nfa_.AddState();
    if (kind == FractionKind::kNonZero) {
      for (int i = 1; i <= max_digits; ++i) nonzero[i] = nfa_.AddState();
    }
    for (int i = 0; i < max_digits; ++i) {
      switch (kind) {
        case FractionKind::kAny: nfa_.AddBytes(plain[i], '0', '9', plain[i + 1]); break;
        case FractionKind::kZero: nfa_.AddBytes(plain[i], '0', '0', plain[i + 1]); break;
        case FractionKind::kNonZero:
          nfa_.AddBytes(plain[i], '0', '0', plain[i + 1]);
          nfa_.AddBytes(plain[i], '1', '9', nonzero[i + 1]);
          if (i > 0 && nonzero[i] != 0) nfa_.AddBytes(nonzero[i], '0', '9', nonzero[i + 1]);
          break;
      }
    }
    for (int i = 1; i <= max_digits; ++i) {
      nfa_.AddEpsilon(kind == FractionKind::kNonZero ? nonzero[i] : plain[i], to);
    }
  }

  // Magnitudes m with a (<|<=) m (<|<=) b, b = infinity when b_infinite; integer part capped.
  void BoundedMagnitude(int from, int to, uint64_t a, bool a_open, uint64_t b, bool b_infinite,
                        bool b_open, const DigitLimits& limits) {
    const uint64_t max_integer = PowerOfTen(limits.integer_digits) - 1;
    if (!b_infinite && b > max_integer) b_infinite = true;
    if (a > max_integer) return;
    if (!b_infinite && (a > b || (a == b && (a_open || b_open)))) return;
    auto with_fraction = [&](auto add_integer, FractionKind kind) {
      const int mid = nfa_.AddState();
      add_integer(mid);
      Fraction(mid, to, kind, limits.fraction_digits);
    };
    const uint64_t inner_hi = b_infinite ? max_integer : b - 1;
    if (a + 1 <= inner_hi && (b_infinite || b > 0)) {
      with_fraction([&](int mid) { Magnitude(from, mid, a + 1, inner_hi); }, FractionKind::kAny);
    }
    const std::string a_text = std::to_string(a), b_text = std::to_string(b);
    if (b_infinite || a < b) {
      with_fraction([&](int mid) { Fixed(from, mid, a_text, a_text); },
                    a_open ? FractionKind::kNonZero : FractionKind::kAny);
      if (!b_infinite && !b_open) {
        with_fraction([&](int mid) { Fixed(from, mid, b_text, b_text); }, FractionKind::kZero);
      }
    } else {
      with_fraction([&](int mid) { Fixed(from, mid, a_text, a_text); }, FractionKind::kZero);
    }
  }

 private:
  ByteNfa& nfa_;
};

Fragment Begin(ByteNfa& nfa) {
  Fragment f;
  f.first = nfa.num_states();
  f.start = nfa.AddState();
  f.end = nfa.AddState();
  return f;
}

Fragment Finish(ByteNfa& nfa, Fragment f) {
  f.limit = nfa.num_states();
  return f;
}

}  // namespace

Fragment IntegerFragment(ByteNfa& nfa, int64_t lo, int64_t hi) {
  Fragment f = Begin(nfa);
  DigitBuilder digits(nfa);
  if (lo <= hi) {
    if (hi >= 0) digits.Magnitude(f.start, f.end, static_cast<uint64_t>(std::max<int64_t>(lo, 0)),
                                  static_cast<uint64_t>(hi));
    if (lo < 0) {
      const int minus = nfa.AddState();
      nfa.AddBytes(f.start, '-', '-', minus);
      digits.Magnitude(minus, f.end, static_cast<uint64_t>(std::max<int64_t>(1, -hi)),
                       static_cast<uint64_t>(-lo));
    }
  }
  return Finish(nfa, f);
}

Fragment NumberFragment(ByteNfa& nfa, const DigitLimits& limits) {
  Fragment f = Begin(nfa);
  DigitBuilder digits(nfa);
  const int sign = nfa.AddState(), integer = nfa.AddState(), fraction = nfa.AddState();
  nfa.AddEpsilon(f.start, sign);
  nfa.AddBytes(f.start, '-', '-', sign);
  digits.Magnitude(sign, integer, 0, PowerOfTen(limits.integer_digits) - 1);
  digits.Fraction(integer, fraction, DigitBuilder::FractionKind::kAny, limits.fraction_digits);
  nfa.AddEpsilon(fraction, f.end);
  const int e = nfa.AddState(), e_sign = nfa.AddState();
  nfa.AddBytes(fraction, 'e', 'e', e);
  nfa.AddBytes(fraction, 'E', 'E', e);
  nfa.AddEpsilon(e, e_sign);
  nfa.AddBytes(e, '+', '+', e_sign);
  nfa.AddBytes(e, '-', '-', e_sign);
  int current = e_sign;
  for (int i = 0; i < limits.exponent_digits; ++i) {
    const int next = nfa.AddState();
    nfa.AddBytes(current, '0', '9', next);
    nfa.AddEpsilon(next, f.end);
    current = next;
  }
  return Finish(nfa, f);
}

Fragment BoundedNumberFragment(ByteNfa& nfa, const NumberBound& lower, const NumberBound& upper,
                               const DigitLimits& limits) {
  Fragment f = Begin(nfa);
  DigitBuilder digits(nfa);
  // Non-negative values: m in [max(lower, 0), upper].
  if (!(upper.present && (upper.value < 0 || (upper.value == 0 && upper.exclusive)))) {
    uint64_t a = 0;
    bool a_open = false;
    if (lower.present && lower.value >= 0) a = static_cast<uint64_t>(lower.value), a_open = lower.exclusive;
    digits.BoundedMagnitude(f.start, f.end, a, a_open,
                            upper.present ? static_cast<uint64_t>(upper.value) : 0, !upper.present,
                            upper.exclusive, limits);
  }
  // Negative values -m, m > 0: m in (max(-upper, 0), -lower].
  if (!(lower.present && lower.value >= 0)) {
    uint64_t a = 0;
    bool a_open = true;
    if (upper.present && upper.value < 0) a = static_cast<uint64_t>(-upper.value), a_open = upper.exclusive;
    const int minus = nfa.AddState();
    nfa.AddBytes(f.start, '-', '-', minus);
    digits.BoundedMagnitude(minus, f.end, a, a_open,
                            lower.present ? static_cast<uint64_t>(-lower.value) : 0, !lower.present,
                            lower.exclusive, limits);
  }
  return Finish(nfa, f);
}

}  // namespace lfm2::json_grammar
