// board.json's `gpio`: the simulated board, or how the GPIO chip is found (never by number).

import LoopCore
import LoopGPIO

extension Validator {
  /// Whether the board is simulated, its chip and the consumer label.
  @inline(never)
  mutating func gpio(_ root: Int) throws(ConfigError) -> (simulated: Bool, chip: ChipSelector, consumer: Name)
  {
    // The simulated board unless the object names a chip; one exit, so one copy of the result.
    var isMock = true
    var chip = ChipSelector.name(GPIOName(BoardConfig.simulatedChipName))
    var consumer = Name("sensorloop")
    let example: StaticString = "{\"chip\": \"pinctrl-bcm2711\"}"
    guard let node = doc.member(root, "gpio") else {
      throw missing(root, "gpio", "\"mock\" or an object such as {\"chip\": \"pinctrl-bcm2711\"}")
    }
    let mark = push("gpio")
    if kind(node) == .string {
      guard bytesEqual(doc.string(node), "mock") else {
        throw mismatch(
          .range, at: node,
          expected: bytes("\"mock\" or an object such as {\"chip\": \"pinctrl-bcm2711\"}"),
          suggested: suggestion(for: doc.string(node), among: "mock"))
      }
    } else {
      try checkObject(node, allowed: "chip consumer", what: "gpio", example: example)
      if case let (consumerNode, inner)? = enter(node, "consumer") {
        consumer = try readKernelName(consumerNode)
        pop(inner)
      }
      guard let chipNode = doc.member(node, "chip") else {
        throw missing(node, "chip", "a chip label such as \"pinctrl-bcm2711\", or \"mock\"")
      }
      _ = push("chip")  // Popped with "gpio" (`pop(mark)`).
      let chipExpected = bytes(
        "a chip label such as \"pinctrl-bcm2711\", a chip name such as \"gpiochip0\", a /dev path, or \"mock\""
      )
      if kind(chipNode) == .number
        || (kind(chipNode) == .string && !doc.string(chipNode).isEmpty
          && doc.string(chipNode).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }))
      {
        var message: [UInt8] = []
        message.append("expected ")
        message.append(contentsOf: chipExpected)
        message.append(", found ")
        describe(chipNode, into: &message)
        message.append(" (a bare chip number is refused: numbers change between kernels; use the label)")
        throw error(.range, at: chipNode, message)
      }
      guard kind(chipNode) == .string else { throw mismatch(.type, at: chipNode, expected: chipExpected) }
      let text = doc.string(chipNode)
      if !bytesEqual(text, "mock") {
        isMock = false
        if text.first == UInt8(ascii: "/") {
          chip = .path(GPIOName(try readPath(chipNode, absolute: true)))
        } else {
          let name = GPIOName(try readKernelName(chipNode))
          chip = numberAfter(prefix: "gpiochip", in: Array(text)) != nil ? .name(name) : .label(name)
        }
      }
    }
    pop(mark)
    return (isMock, chip, consumer)
  }
}
