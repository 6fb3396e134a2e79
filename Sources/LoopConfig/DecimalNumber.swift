// An exact decimal number as written in board.json (`2.4`, `0.001`, `-273.15`): a 64-bit
// significand and a power of ten. Scale and offset keep what the user typed, and the
// task library can compute in fixed point or take the nearest `Double`.
// (Embedded Swift has no `Double(String)`; this parse needs nothing from the runtime.)

/// A decimal number `significand × 10^exponent`, exactly as written (up to 18 digits).
public struct DecimalNumber: Equatable, Sendable {
  /// The digits as an integer (sign included).
  public var significand: Int64
  /// The power of ten the significand is multiplied by.
  public var exponent: Int32

  /// `significand × 10^exponent`.
  public init(significand: Int64, exponent: Int32 = 0) {
    self.significand = significand
    self.exponent = exponent
  }

  /// Zero.
  public static let zero = DecimalNumber(significand: 0)
  /// One.
  public static let one = DecimalNumber(significand: 1)

  /// The nearest `Double` (exact rounding when the significand is below 2^53 and the
  /// exponent within ±22; within a few ulps otherwise). Infinite when the exponent is huge.
  public var double: Double {
    if significand == 0 { return 0 }
    var value = Double(significand)
    var exponent = Int(self.exponent)
    if exponent > 400 { return significand < 0 ? -.infinity : .infinity }
    if exponent < -400 { return 0 }
    while exponent > 22 {
      value *= 1e22
      exponent -= 22
    }
    while exponent < -22 {
      value /= 1e22
      exponent += 22
    }
    let power = DecimalNumber.powerOfTen(exponent.magnitude)
    return exponent >= 0 ? value * power : value / power
  }

  /// 10^n for n in 0...22, every one exactly representable in a `Double`.
  private static func powerOfTen(_ n: UInt) -> Double {
    var result = 1.0
    for _ in 0..<n { result *= 10 }
    return result
  }

  /// The value as an integer when it is one that fits an Int64, else nil.
  public var exactInteger: Int64? {
    var value = significand
    if exponent >= 0 {
      for _ in 0..<Int(exponent) {
        let (product, overflow) = value.multipliedReportingOverflow(by: 10)
        if overflow { return nil }
        value = product
      }
      return value
    }
    for _ in 0..<Int(-exponent) {
      if value % 10 != 0 { return nil }
      value /= 10
      if value == 0 { return 0 }
    }
    return value
  }

  /// Writes the number in plain decimal notation (`2.4`, `-0.001`, `1000`).
  func render(into out: inout [UInt8]) {
    if significand < 0 { out.append(byte: UInt8(ascii: "-")) }
    var digits: [UInt8] = []
    digits.appendDecimal(significand.magnitude)
    if exponent >= 0 {
      out.append(contentsOf: digits)
      if significand != 0 && exponent <= 30 {
        for _ in 0..<Int(exponent) { out.append(byte: UInt8(ascii: "0")) }
      } else if significand != 0 {
        out.append("e")
        out.appendDecimal(Int(exponent))
      }
      return
    }
    let fraction = Int(-exponent)
    if fraction > 30 {
      out.append(contentsOf: digits)
      out.append("e")
      out.appendDecimal(Int(exponent))
      return
    }
    if digits.count <= fraction {
      out.append("0.")
      for _ in 0..<(fraction - digits.count) { out.append(byte: UInt8(ascii: "0")) }
      out.append(contentsOf: digits)
    } else {
      out.append(contentsOf: digits[0..<(digits.count - fraction)])
      out.append(byte: UInt8(ascii: "."))
      out.append(contentsOf: digits[(digits.count - fraction)...])
    }
  }

  /// Parses a JSON number token already checked by the JSON reader's grammar; nil when the
  /// exponent is beyond ±100000 (such a number is out of every range the schema allows).
  static func parse(_ token: ArraySlice<UInt8>) -> DecimalNumber? {
    var index = token.startIndex
    var negative = false
    if index < token.endIndex && token[index] == UInt8(ascii: "-") {
      negative = true
      index += 1
    }
    var significand: Int64 = 0
    var exponent: Int64 = 0
    var digitsKept = 0
    var seenDot = false
    while index < token.endIndex {
      let byte = token[index]
      if byte == UInt8(ascii: ".") {
        seenDot = true
      } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
        let digit = Int64(byte - UInt8(ascii: "0"))
        if digitsKept < 18 {
          if significand != 0 || digit != 0 { digitsKept += 1 }
          significand = significand * 10 + digit
          if seenDot { exponent -= 1 }
        } else if !seenDot {
          // Digits beyond 18 in the integer part are dropped and counted as powers of ten.
          exponent += 1
        }
      } else {
        break
      }
      index += 1
    }
    if index < token.endIndex {
      // An exponent: 'e' or 'E', an optional sign, digits.
      index += 1
      var exponentNegative = false
      if token[index] == UInt8(ascii: "-") || token[index] == UInt8(ascii: "+") {
        exponentNegative = token[index] == UInt8(ascii: "-")
        index += 1
      }
      var written: Int64 = 0
      while index < token.endIndex {
        written = written * 10 + Int64(token[index] - UInt8(ascii: "0"))
        if written > 100_000 { return significand == 0 ? .zero : nil }
        index += 1
      }
      exponent += exponentNegative ? -written : written
    }
    if significand == 0 { return .zero }
    // Trailing zeros move into the exponent so equal values compare equal.
    while significand % 10 == 0 {
      significand /= 10
      exponent += 1
    }
    if exponent > 100_000 || exponent < -100_000 { return nil }
    return DecimalNumber(significand: negative ? -significand : significand, exponent: Int32(exponent))
  }

  /// Whether `self` is less than `other`, compared exactly when the exponents are close and by
  /// nearest `Double` otherwise.
  func isLess(than other: DecimalNumber) -> Bool {
    double < other.double
  }
}
