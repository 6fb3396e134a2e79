// The number parser of the sampler: the decimal number a sysfs or IIO file starts with.

/// Parses the decimal number at the start of `bytes[0..<count]` (leading blanks, optional sign,
/// digits, optional fraction; what follows must be blank), as sysfs and IIO files hold.
func parseNumber(_ bytes: InlineArray<64, UInt8>, count: Int) -> Double? {
  var i = 0
  while i < count && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
  var negative = false
  if i < count && (bytes[i] == 0x2D || bytes[i] == 0x2B) {
    negative = bytes[i] == 0x2D
    i += 1
  }
  var value = 0.0
  var digits = 0
  while i < count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
    value = value * 10 + Double(bytes[i] - 0x30)
    digits += 1
    i += 1
  }
  if i < count && bytes[i] == 0x2E {
    i += 1
    var place = 0.1
    while i < count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
      value += Double(bytes[i] - 0x30) * place
      place /= 10
      digits += 1
      i += 1
    }
  }
  guard digits > 0 else { return nil }
  while i < count && (bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D) {
    i += 1
  }
  guard i == count || bytes[i] == 0 else { return nil }
  return negative ? -value : value
}
