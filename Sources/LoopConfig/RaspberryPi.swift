// What the validator knows about Raspberry Pi header controllers, from the kernels' device
// trees (see Boards/README.md): the chip labels, how many lines each has, and every spelling
// the kernels have used for a header line. With it a config's names, offsets and header pins
// can be checked against one another, and two spellings of one line caught as a duplicate.

import LoopCore

/// A Raspberry Pi GPIO controller the validator recognises by label.
struct KnownChip {
  /// How the chip's kernel names the header lines besides `GPIOn`.
  enum Naming {
    /// BCM2835/BCM2711 on 6.1 kernels: functional names (`SDA1`, `TXD1` ...).
    case broadcom
    /// RP1 (Pi 5) on 6.1 kernels: physical pin names (`PIN3` ...).
    case rp1
  }

  /// The chip label `gpiodetect` shows.
  let label: StaticString
  /// Lines on the chip.
  let lineCount: Int
  /// The older naming scheme.
  let naming: Naming

  /// The known chip labelled `label`: the header controllers of the supported boards. (Tested
  /// in turn, not kept in an array: a global array is built at run time, by code.)
  static func find(_ label: Name) -> KnownChip? {
    if label.equals("pinctrl-bcm2835") {
      return KnownChip(label: "pinctrl-bcm2835", lineCount: 54, naming: .broadcom)
    }
    if label.equals("pinctrl-bcm2711") {
      return KnownChip(label: "pinctrl-bcm2711", lineCount: 58, naming: .broadcom)
    }
    if label.equals("pinctrl-rp1") { return KnownChip(label: "pinctrl-rp1", lineCount: 54, naming: .rp1) }
    return nil
  }

  /// The BCM number a line name stands for on this chip, or nil for a name it does not know.
  func bcmNumber(forName name: Name) -> Int? {
    let bytes = name.bytes
    if let n = numberAfter(prefix: "GPIO", in: bytes), n < lineCount { return n }
    if name.equals("ID_SDA") { return 0 }
    if name.equals("ID_SCL") { return 1 }
    switch naming {
    case .broadcom:
      if let index = Words(stringLiteral: KnownChip.broadcomNames).index(of: bytes[...]) {
        return KnownChip.broadcomNumbers[index]
      }
    case .rp1:
      if let pin = numberAfter(prefix: "PIN", in: bytes) { return KnownChip.bcm(forHeaderPin: pin) }
    }
    return nil
  }

  /// Functional names the 6.1 kernels gave header lines on BCM2835/BCM2711 ...
  private static var broadcomNames: StaticString {
    "SDA1 SCL1 GPIO_GCLK SPI_CE1_N SPI_CE0_N SPI_MISO SPI_MOSI SPI_SCLK TXD1 RXD1"
  }
  /// ... and their BCM numbers, in the same order.
  private static let broadcomNumbers: InlineArray<10, Int> = [2, 3, 4, 7, 8, 9, 10, 11, 14, 15]

  /// The physical 40-pin header pin of BCM GPIO `bcm`, for GPIO 2 to 27.
  static func headerPin(forBCM bcm: Int) -> Int? {
    guard bcm >= 2 && bcm <= 27 else { return nil }
    return pinOfBCM[bcm - 2]
  }

  /// The BCM GPIO on physical header pin `pin`, when that pin is a GPIO.
  static func bcm(forHeaderPin pin: Int) -> Int? {
    for offset in 0..<pinOfBCM.count where pinOfBCM[offset] == pin { return offset + 2 }
    return nil
  }

  /// Header pins of BCM 2, 3, ... 27 (the same on every 40-pin Raspberry Pi).
  private static let pinOfBCM: InlineArray<26, Int> = [
    3, 5, 7, 29, 31, 26, 24, 21, 19, 23, 32, 33, 8, 10, 36, 11, 12, 35, 38, 40, 15, 16, 18, 22, 37, 13,
  ]
}

/// The decimal number spelled after `prefix` in `bytes` (no sign, no leading zeros), if the
/// bytes are exactly the prefix and such a number.
func numberAfter(prefix: StaticString, in bytes: [UInt8]) -> Int? {
  let prefixLength = prefix.utf8CodeUnitCount
  guard bytes.count > prefixLength, bytes.count <= prefixLength + 4,
    bytesEqual(bytes[0..<prefixLength], prefix)
  else { return nil }
  let digits = bytes[prefixLength...]
  if digits.count > 1 && digits.first == UInt8(ascii: "0") { return nil }
  var value = 0
  for byte in digits {
    guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
    value = value * 10 + Int(byte - UInt8(ascii: "0"))
  }
  return value
}
