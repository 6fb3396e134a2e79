// board.json's `lines`: each line's spellings (names, aliases, offset, header pin), which must
// agree on a known Raspberry Pi chip and name no line twice, and how it is requested.

import LoopCore
import LoopGPIO

extension Validator {
  static var lineKeys: StaticString {
    """
    name aliases offset pin direction edge bias active_low debounce_ms drive initial kernel_queue
    """
  }

  /// Reads `lines` into `scope.lines` and `scope.lineNodes` (in place: the 10 KB list was copied
  /// six times on its way there).
  @inline(never)
  mutating func readLines(_ root: Int, simulated: Bool, chip: ChipSelector) throws(ConfigError) {
    guard let node = doc.member(root, "lines") else { return }
    let mark = push("lines")
    guard kind(node) == .object else {
      throw mismatch(
        .type, at: node,
        expected: "an object of named lines ({\"led\": {\"name\": \"GPIO17\", \"direction\": \"output\"}})")
    }
    // A "note" with a string value is free text here too, so "note" cannot name a line.
    func isNote(_ keyNode: Int) -> Bool {
      bytesEqual(doc.string(keyNode), "note") && kind(keyNode + 1) == .string
    }
    // The members walked by node (each key's value follows it), twice: no array of keys.
    let members = Int(doc.nodes[node].a)
    var count = 0
    var next = doc.firstChild(node)
    for _ in 0..<members {
      if !isNote(next) { count += 1 }
      next = doc.next(next + 1)
    }
    if count > ConfigLimits.maxLines {
      throw capacityError(at: node, most: ConfigLimits.maxLines, of: "lines", found: count)
    }
    let known: KnownChip? =
      if case .label(let label) = chip, !simulated { KnownChip.find(Name(label)) } else { nil }
    next = doc.firstChild(node)
    for _ in 0..<members {
      let keyNode = next
      next = doc.next(keyNode + 1)
      if isNote(keyNode) { continue }
      let value = keyNode + 1
      let key = doc.string(keyNode)
      let inner = push(key: key)
      guard let id = asName(key) else {
        var message: [UInt8] = []
        message.append("a line's key is the name tasks use for it: expected ")
        message.append(contentsOf: nameExpectation())
        throw error(.range, at: keyNode, message)
      }
      for index in scope.lines.indices where scope.lines.element(index).id == id {
        // The key node comes just before its value.
        throw duplicateKey(keyNode, first: scope.lineNodes[index] - 1)
      }
      let line = try readLine(value, id: id, simulated: simulated, known: known)
      try checkDistinct(line, object: value, known: known)
      scope.lines.append(line)
      scope.lineNodes.append(value)
      scope.lineTasks.append(-1)
      pop(inner)
    }
    pop(mark)
  }

  mutating func readLine(_ object: Int, id: Name, simulated: Bool, known: KnownChip?)
    throws(ConfigError) -> LineConfig
  {
    try checkObject(
      object, allowed: Validator.lineKeys, what: "a line",
      example: "{\"name\": \"GPIO17\", \"direction\": \"output\"}")
    var names = FixedList<4, Name>()
    if case let (node, mark)? = enter(object, "name") {
      names.append(try readKernelName(node))
      pop(mark)
    }
    if case let (node, mark)? = enter(object, "aliases") {
      guard doc.member(object, "name") != nil else {
        throw error(.missingKey, at: node, "\"aliases\" needs a \"name\" to try first")
      }
      guard kind(node) == .array, doc.nodes[node].a >= 1,
        doc.nodes[node].a <= Int32(ConfigLimits.maxLineNames - 1)
      else {
        throw mismatch(
          kind(node) == .array ? .capacity : .type, at: node,
          expected: bytes("an array of 1 to 3 other names of the line, such as [\"SDA1\"]"))
      }
      var element = doc.firstChild(node)
      for index in 0..<Int(doc.nodes[node].a) {
        let inner = push(index: index)
        let alias = try readKernelName(element)
        for other in names.indices where names[other] == alias {
          throw error(.conflict, at: element, "the same spelling is listed twice")
        }
        names.append(alias)
        pop(inner)
        element = doc.next(element)
      }
      pop(mark)
    }
    let maxOffset: Int64 = known.map { Int64($0.lineCount - 1) } ?? 1023
    var offset: Int? = nil
    var offsetNode = object
    if case let (node, mark)? = enter(object, "offset") {
      offsetNode = node
      if kind(node) == .number, let value = integerToken(doc.token(node)), value >= 0 && value <= maxOffset {
        offset = Int(value)
      } else if let known, kind(node) == .number {
        var message: [UInt8] = []
        message.append("expected a line offset from 0 to ")
        message.appendDecimal(maxOffset)
        message.append(" (")
        message.append(known.label)
        message.append(" has ")
        message.appendDecimal(known.lineCount)
        message.append(" lines), found ")
        describe(node, into: &message)
        throw error(.range, at: node, message)
      } else {
        offset = Int(try readInteger(node, 0...maxOffset))
      }
      pop(mark)
    }
    if names.isEmpty && offset == nil {
      throw error(
        .missingKey, at: object,
        "missing required key \"name\" (the kernel's line name, such as \"GPIO17\") or \"offset\"")
    }
    if names.isEmpty && simulated {
      throw error(
        .missingKey, at: object,
        "missing required key \"name\": the mock chip creates its lines by name (an offset alone names none)")
    }

    // On a known Raspberry Pi chip every spelling and the offset must mean the same BCM line.
    var bcm: Int? = nil
    var bcmSource: [UInt8] = []
    if let known {
      for index in names.indices {
        guard let number = known.bcmNumber(forName: names[index]) else { continue }
        let (node, mark) = enterSpelling(object, index)
        try agree(&bcm, &bcmSource, number, node: node, spelling: names[index].bytes, chip: known)
        pop(mark)
      }
      if let offset {
        let mark = push("offset")
        var spelling: [UInt8] = []
        spelling.append("offset ")
        spelling.appendDecimal(offset)
        try agree(
          &bcm, &bcmSource, offset, node: offsetNode, spelling: spelling, chip: known)
        pop(mark)
      }
    }
    var headerPin = bcm.flatMap { KnownChip.headerPin(forBCM: $0) }
    if case let (node, mark)? = enter(object, "pin") {
      let pin = Int(try readInteger(node, 1...40))
      if let bcm {
        guard headerPin == pin else {
          var message: [UInt8] = []
          message.append("BCM ")
          message.appendDecimal(bcm)
          if let headerPin {
            message.append(" is header pin ")
            message.appendDecimal(headerPin)
          } else {
            message.append(" is not on the 40-pin header")
          }
          message.append(", not pin ")
          message.appendDecimal(pin)
          throw error(.conflict, at: node, message)
        }
      } else {
        guard KnownChip.bcm(forHeaderPin: pin) != nil else {
          var message: [UInt8] = []
          message.append("header pin ")
          message.appendDecimal(pin)
          message.append(" is not a GPIO (power, ground or the ID EEPROM pins)")
          throw error(.range, at: node, message)
        }
        headerPin = pin
      }
      pop(mark)
    }

    let direction: Direction =
      try choice(object, "direction", "input output", default: nil) == 0 ? .input : .output
    let isInput = direction == .input
    if isInput {
      try onlyFor(object, "drive", direction)
      try onlyFor(object, "initial", direction)
    } else {
      try onlyFor(object, "edge", direction)
      try onlyFor(object, "debounce_ms", direction)
      try onlyFor(object, "kernel_queue", direction)
    }
    let edgeIndex = try choice(object, "edge", "none rising falling both", default: 3)
    let bias = try choice(object, "bias", "as-is disabled pull-up pull-down", default: 0)
    let drive = try choice(object, "drive", "push-pull open-drain open-source", default: 0)
    var initial = false
    if case let (node, mark)? = enter(object, "initial") {
      initial = try readLevel(node)
      pop(mark)
    }
    let line = LineConfig(
      id: id, names: names, offset: offset, bcm: bcm, headerPin: headerPin, direction: direction,
      edge: isInput ? EdgeDetection(rawValue: UInt8(truncatingIfNeeded: edgeIndex &- 1)) : nil,
      bias: Bias(rawValue: UInt8(bias))!,
      activeLow: try boolean(object, "active_low", default: false),
      debounce: try milliseconds(object, "debounce_ms", 0...1000, default: 0),
      drive: Drive(rawValue: UInt8(drive))!, initialValue: initial,
      kernelQueue: Int(
        try integer(
          object, "kernel_queue", 1...Int64(InputConfig.maxKernelQueue),
          default: Int64(InputConfig.defaultKernelQueue))))
    return line
  }

  /// The node of the line's spelling `index` (0: `name`, then each of `aliases`), with its
  /// path pushed (`pop(mark)` after).
  @inline(never)
  mutating func enterSpelling(_ object: Int, _ index: Int) -> (node: Int, mark: Int) {
    if index == 0 { return (doc.member(object, "name") ?? object, push("name")) }
    let aliases = doc.member(object, "aliases")!
    let mark = push("aliases")
    _ = push(index: index - 1)
    var node = doc.firstChild(aliases)
    for _ in 1..<index { node = doc.next(node) }
    return (node, mark)
  }

  /// Records `number` as the line's BCM number, or fails when an earlier spelling said otherwise.
  mutating func agree(
    _ bcm: inout Int?, _ source: inout [UInt8], _ number: Int, node: Int, spelling: [UInt8], chip: KnownChip
  ) throws(ConfigError) {
    guard let earlier = bcm else {
      bcm = number
      source = spelling
      return
    }
    guard earlier == number else {
      var message: [UInt8] = []
      message.append("on ")
      message.append(chip.label)
      message.append(" ")
      appendSpelling(spelling, into: &message)
      message.append(" is BCM ")
      message.appendDecimal(number)
      message.append(" but ")
      appendSpelling(source, into: &message)
      message.append(" is BCM ")
      message.appendDecimal(earlier)
      throw error(.conflict, at: node, message)
    }
  }

  mutating func appendSpelling(_ spelling: [UInt8], into out: inout [UInt8]) {
    if hasPrefix(spelling, "offset ") {
      out.append(contentsOf: spelling)
    } else {
      out.appendQuoted(spelling)
    }
  }

  /// Fails if `object` has `key`, which does not apply to a line of `direction`.
  @inline(never)
  mutating func onlyFor(_ object: Int, _ key: StaticString, _ direction: Direction) throws(ConfigError) {
    if case let (node, _)? = enter(object, key) {  // Not popped: the error is thrown (see `pop`).
      var message: [UInt8] = []
      message.append(direction == .input ? "applies to output lines only" : "applies to input lines only")
      message.append("; this line has \"direction\": ")
      message.append(direction == .input ? "\"input\"" : "\"output\"")
      throw error(.conflict, at: node, message)
    }
  }

  /// Fails when `line` is the same GPIO line as one already read, pointing at the spelling
  /// (name, alias or offset) that repeats it; the lines read so far are `scope.lines`.
  mutating func checkDistinct(_ line: LineConfig, object: Int, known: KnownChip?) throws(ConfigError) {
    for other in scope.lines.indices {
      let earlier = scope.lines.element(other)
      for spelling in line.names.indices {
        for b in earlier.names.indices where line.names[spelling] == earlier.names[b] {
          var same: [UInt8] = []
          same.appendQuoted(line.names[spelling])
          throw repeated(
            same, spelling: spelling, object: object, earlier: earlier, earlierNode: scope.lineNodes[other])
        }
      }
      let bcmClash = line.bcm != nil && earlier.bcm == line.bcm
      let offsetClash = known == nil && line.offset != nil && earlier.offset == line.offset
      guard bcmClash || offsetClash else { continue }
      var same: [UInt8] = []
      var spelling = -1
      if bcmClash, let bcm = line.bcm, let known {
        // Point at the first spelling that says which BCM line this is.
        for index in line.names.indices where known.bcmNumber(forName: line.names[index]) == bcm {
          spelling = index
          break
        }
        if spelling >= 0 {
          same.appendQuoted(line.names[spelling])
          same.append(" (BCM ")
        } else {
          same.append("offset ")
          same.appendDecimal(line.offset ?? bcm)
          same.append(" (BCM ")
        }
        same.appendDecimal(bcm)
        same.append(")")
      } else {
        same.append("offset ")
        same.appendDecimal(line.offset ?? 0)
      }
      throw repeated(
        same, spelling: spelling, object: object, earlier: earlier, earlierNode: scope.lineNodes[other])
    }
  }

  /// The error for a line spelled `same` that is already line `earlier`; `spelling` indexes
  /// the line's names (`-1` for its offset).
  mutating func repeated(
    _ same: [UInt8], spelling: Int, object: Int, earlier: LineConfig, earlierNode: Int
  ) -> ConfigError {
    // The path is not restored: the error is thrown (see `pop`).
    let node: Int
    if spelling < 0 {
      node = doc.member(object, "offset") ?? object
      _ = push("offset")
    } else {
      node = enterSpelling(object, spelling).node
    }
    var message: [UInt8] = []
    message.append(contentsOf: same)
    message.append(" is already line ")
    message.appendQuoted(earlier.id)
    message.append(" (at ")
    appendPosition(of: earlierNode - 1, into: &message)
    message.append("); a GPIO line can be listed once")
    return error(.conflict, at: node, message)
  }

  /// The index of the line string `node` names in `scope.lines` (read there, not passed: a
  /// 10 KB list passed from the validator itself is copied for the call).
  mutating func resolveLine(_ node: Int) throws(ConfigError) -> Int {
    guard kind(node) == .string else {
      throw mismatch(.type, at: node, expected: "the name of a line in \"lines\"")
    }
    let wanted = doc.string(node)
    for index in scope.lines.indices where scope.lines.element(index).id.equals(wanted) { return index }
    var ids: [[UInt8]] = []
    for index in scope.lines.indices { ids.append(scope.lines.element(index).id.bytes) }
    throw unknownReference(node, what: "line", list: "\"lines\"", names: ids)
  }

}
