// The board.json schema: which keys each object has, their ranges and defaults, and the
// checks across parts (a line used twice, a task naming a missing line, an input driven as
// an output, totals over the fixed capacities). Boards/README.md is the user's reference to
// the same schema; keep the two in step.

import LoopCore

/// What a task or stimulus requires of a line it names.
private struct LineNeed {
  var direction: Direction
  /// The edges an input must report (nil for outputs).
  var edges: Edge?
}

/// Bookkeeping per line while tasks are read.
private struct LineUse {
  /// The object node of the line in `lines` (for positions).
  var node: Int
  /// Whether `edge` was written.
  var explicitEdge: Bool
  /// The task using the line, if any.
  var task: Int?
}

extension Validator {
  static let topKeys: [StaticString] = ["board", "gpio", "lines", "tasks", "output", "sim"]
  static let lineKeys: [StaticString] = [
    "name", "aliases", "offset", "pin", "direction", "edge", "bias", "active_low", "debounce_ms", "drive",
    "initial",
  ]
  static let taskKinds: [StaticString] = [
    "heartbeat", "button", "pulse_counter", "sampler", "encoder", "threshold", "watchdog", "ticker", "pwm",
  ]
  static let stimulusKinds: [StaticString] = ["edge", "pulses", "bounce", "press", "quadrature"]

  /// The keys a task of kind `kind` (an index into `taskKinds`) may have.
  static func taskKeys(_ kind: Int) -> [StaticString] {
    switch kind {
    case 0: return ["name", "kind", "line", "pattern_ms"]
    case 1: return ["name", "kind", "line", "debounce_ms", "long_press_ms"]
    case 2: return ["name", "kind", "line", "edge", "window_ms", "scale", "unit"]
    case 3: return ["name", "kind", "path", "period_ms", "scale", "offset", "unit"]
    case 4: return ["name", "kind", "line_a", "line_b", "steps_per_detent"]
    case 5: return ["name", "kind", "source", "line", "on_above", "off_below"]
    case 6: return ["name", "kind", "device", "kick_ms", "stall_ms", "watch", "disarm_on_exit"]
    case 7: return ["name", "kind", "period_ms"]
    default: return ["name", "kind", "line", "period_ms", "duty_percent"]
    }
  }

  /// "a heartbeat task" etc. for messages.
  static func taskWhat(_ kind: Int) -> StaticString {
    switch kind {
    case 0: return "a heartbeat task"
    case 1: return "a button task"
    case 2: return "a pulse_counter task"
    case 3: return "a sampler task"
    case 4: return "an encoder task"
    case 5: return "a threshold task"
    case 6: return "a watchdog task"
    case 7: return "a ticker task"
    default: return "a pwm task"
    }
  }

  /// Validates the whole document into a `BoardConfig`.
  mutating func validateBoard() throws(ConfigError) -> BoardConfig {
    let root = 0
    guard kind(root) == .object else {
      throw mismatch(
        .type, at: root,
        expected: bytes("an object at the top level ({\"board\": ..., \"gpio\": ..., \"tasks\": [...]})")
      )
    }
    try checkObject(
      root, allowed: Validator.topKeys, what: "the top level",
      example: "{\"board\": ..., \"gpio\": ..., \"tasks\": [...]}")

    let board: Label = try text(root, "board", allowEmpty: false, default: nil)
    let (chip, consumer) = try gpio(root)
    var uses: [LineUse] = []
    var lines = try readLines(root, chip: chip, uses: &uses)
    let tasks = try readTasks(root, lines: &lines, uses: &uses)
    let output = try readOutput(root)
    var stimuli = FixedList<64, Stimulus>()
    var simFiles = FixedList<8, SimFile>()
    try readSim(root, chip: chip, lines: lines, stimuli: &stimuli, files: &simFiles)

    let config = BoardConfig(
      board: board, chip: chip, consumer: consumer, lines: lines, tasks: tasks, output: output,
      stimuli: stimuli, simFiles: simFiles)
    try checkTotals(config, root: root)
    return config
  }

  // MARK: gpio

  private mutating func gpio(_ root: Int) throws(ConfigError) -> (ChipSelector, Name) {
    let example: StaticString = "{\"chip\": \"pinctrl-bcm2711\"}"
    guard let node = doc.member(root, "gpio") else {
      throw missing(root, "gpio", bytes("\"mock\" or an object such as {\"chip\": \"pinctrl-bcm2711\"}"))
    }
    let mark = push("gpio")
    defer { pop(mark) }
    if kind(node) == .string {
      guard bytesEqual(doc.string(node), "mock") else {
        throw mismatch(
          .range, at: node,
          expected: bytes("\"mock\" or an object such as {\"chip\": \"pinctrl-bcm2711\"}"),
          suggested: suggestion(for: doc.string(node), among: ["mock"]).map { _ in bytes("mock") })
      }
      return (.mock, Name("sensorloop"))
    }
    try checkObject(node, allowed: ["chip", "consumer"], what: "gpio", example: example)
    let consumer: Name
    if let consumerNode = doc.member(node, "consumer") {
      let inner = push("consumer")
      consumer = try readKernelName(consumerNode)
      pop(inner)
    } else {
      consumer = Name("sensorloop")
    }
    guard let chipNode = doc.member(node, "chip") else {
      throw missing(node, "chip", bytes("a chip label such as \"pinctrl-bcm2711\", or \"mock\""))
    }
    let inner = push("chip")
    defer { pop(inner) }
    let chipExpected = bytes(
      "a chip label such as \"pinctrl-bcm2711\", a chip name such as \"gpiochip0\", a /dev path, or \"mock\"")
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
    if bytesEqual(text, "mock") { return (.mock, consumer) }
    if text.first == UInt8(ascii: "/") {
      return (.path(try readPath(chipNode, absolute: true)), consumer)
    }
    let name = try readKernelName(chipNode)
    if numberAfter(prefix: "gpiochip", in: Array(text)) != nil { return (.name(name), consumer) }
    return (.label(name), consumer)
  }

  // MARK: lines

  private mutating func readLines(_ root: Int, chip: ChipSelector, uses: inout [LineUse]) throws(ConfigError)
    -> FixedList<32, LineConfig>
  {
    var lines = FixedList<32, LineConfig>()
    guard let node = doc.member(root, "lines") else { return lines }
    let mark = push("lines")
    defer { pop(mark) }
    guard kind(node) == .object else {
      throw mismatch(
        .type, at: node,
        expected: bytes(
          "an object of named lines ({\"led\": {\"name\": \"GPIO17\", \"direction\": \"output\"}})"))
    }
    // A "note" with a string value is free text here too, so "note" cannot name a line.
    func isNote(_ member: (key: Int, value: Int)) -> Bool {
      bytesEqual(doc.string(member.key), "note") && kind(member.value) == .string
    }
    let members = doc.members(node)
    let count = members.count - members.filter(isNote).count
    if count > ConfigLimits.maxLines {
      throw capacityError(at: node, most: ConfigLimits.maxLines, of: "lines", found: count)
    }
    let known: KnownChip? = if case .label(let label) = chip { KnownChip.find(label) } else { nil }
    for member in members where !isNote(member) {
      let key = doc.string(member.key)
      let inner = push(key: key)
      defer { pop(inner) }
      guard let id = asName(key) else {
        var message: [UInt8] = []
        message.append("a line's key is the name tasks use for it: expected ")
        message.append(contentsOf: nameExpectation())
        throw error(.range, at: member.key, message)
      }
      for index in lines.indices where lines[index].id == id {
        // The key node comes just before its value.
        let first = doc.position(of: Int(doc.nodes[uses[index].node - 1].offset))
        var message: [UInt8] = []
        message.append("duplicate key (first written at ")
        message.appendDecimal(first.line)
        message.append(":")
        message.appendDecimal(first.column)
        message.append(")")
        throw error(.duplicateKey, at: member.key, message)
      }
      let (line, explicitEdge) = try readLine(member.value, id: id, chip: chip, known: known)
      try checkDistinct(line, object: member.value, from: lines, uses: uses, known: known)
      lines.append(line)
      uses.append(LineUse(node: member.value, explicitEdge: explicitEdge, task: nil))
    }
    return lines
  }

  private mutating func readLine(_ object: Int, id: Name, chip: ChipSelector, known: KnownChip?)
    throws(ConfigError) -> (LineConfig, Bool)
  {
    try checkObject(
      object, allowed: Validator.lineKeys, what: "a line",
      example: "{\"name\": \"GPIO17\", \"direction\": \"output\"}")
    var names = FixedList<4, Name>()
    if let node = doc.member(object, "name") {
      let mark = push("name")
      names.append(try readKernelName(node))
      pop(mark)
    }
    if let node = doc.member(object, "aliases") {
      let mark = push("aliases")
      defer { pop(mark) }
      guard doc.member(object, "name") != nil else {
        throw error(.missingKey, at: node, bytes("\"aliases\" needs a \"name\" to try first"))
      }
      guard kind(node) == .array, doc.nodes[node].a >= 1,
        doc.nodes[node].a <= Int32(ConfigLimits.maxLineNames - 1)
      else {
        throw mismatch(
          kind(node) == .array ? .capacity : .type, at: node,
          expected: bytes("an array of 1 to 3 other names of the line, such as [\"SDA1\"]"))
      }
      for (index, element) in doc.elements(node).enumerated() {
        let inner = push(index: index)
        let alias = try readKernelName(element)
        for other in names.indices where names[other] == alias {
          throw error(.conflict, at: element, bytes("the same spelling is listed twice"))
        }
        names.append(alias)
        pop(inner)
      }
    }
    let maxOffset: Int64 = known.map { Int64($0.lineCount - 1) } ?? 1023
    var offset: Int? = nil
    if let node = doc.member(object, "offset") {
      let mark = push("offset")
      defer { pop(mark) }
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
    }
    if names.isEmpty && offset == nil {
      throw error(
        .missingKey, at: object,
        bytes("missing required key \"name\" (the kernel's line name, such as \"GPIO17\") or \"offset\""))
    }
    if names.isEmpty && chip == .mock {
      throw error(
        .missingKey, at: object,
        bytes(
          "missing required key \"name\": the mock chip creates its lines by name (an offset alone names none)"
        ))
    }

    // On a known Raspberry Pi chip every spelling and the offset must mean the same BCM line.
    var bcm: Int? = nil
    var bcmSource: [UInt8] = []
    if let known {
      for index in names.indices {
        guard let number = known.bcmNumber(forName: names[index]) else { continue }
        let node =
          index == 0 ? doc.member(object, "name")! : doc.elements(doc.member(object, "aliases")!)[index - 1]
        let mark = index == 0 ? push("name") : pushAlias(index - 1)
        defer { pop(mark) }
        try agree(&bcm, &bcmSource, number, node: node, spelling: names[index].bytes, chip: known)
      }
      if let offset {
        let mark = push("offset")
        defer { pop(mark) }
        var spelling: [UInt8] = []
        spelling.append("offset ")
        spelling.appendDecimal(offset)
        try agree(
          &bcm, &bcmSource, offset, node: doc.member(object, "offset")!, spelling: spelling, chip: known)
      }
    }
    var headerPin = bcm.flatMap { KnownChip.headerPin(forBCM: $0) }
    if let node = doc.member(object, "pin") {
      let mark = push("pin")
      defer { pop(mark) }
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
    }

    let direction: Direction =
      try choice(object, "direction", ["input", "output"], default: nil) == 0 ? .input : .output
    let isInput = direction == .input
    try onlyFor(
      object, keys: isInput ? ["drive", "initial"] : ["edge", "debounce_ms"], direction: direction)
    let edgeIndex = try choice(object, "edge", ["none", "rising", "falling", "both"], default: 3)
    let bias = try choice(object, "bias", ["as-is", "disabled", "pull-up", "pull-down"], default: 0)
    let drive = try choice(object, "drive", ["push-pull", "open-drain", "open-source"], default: 0)
    var initial = false
    if let node = doc.member(object, "initial") {
      let mark = push("initial")
      initial = try readLevel(node)
      pop(mark)
    }
    let line = LineConfig(
      id: id, names: names, offset: offset, bcm: bcm, headerPin: headerPin, direction: direction,
      edge: isInput ? [Edge.none, .rising, .falling, .both][edgeIndex] : .none,
      bias: [Bias.asIs, .disabled, .pullUp, .pullDown][bias],
      activeLow: try boolean(object, "active_low", default: false),
      debounce: try milliseconds(object, "debounce_ms", 0...1000, default: 0),
      drive: [Drive.pushPull, .openDrain, .openSource][drive], initialValue: initial)
    return (line, doc.member(object, "edge") != nil)
  }

  private mutating func pushAlias(_ index: Int) -> Int {
    let mark = push("aliases")
    _ = push(index: index)
    return mark
  }

  /// Records `number` as the line's BCM number, or fails when an earlier spelling said otherwise.
  private func agree(
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

  private func appendSpelling(_ spelling: [UInt8], into out: inout [UInt8]) {
    if spelling.starts(with: bytes("offset ")) {
      out.append(contentsOf: spelling)
    } else {
      out.appendQuoted(spelling)
    }
  }

  /// Fails if `object` has any of `keys`, which do not apply to a line of `direction`.
  private mutating func onlyFor(_ object: Int, keys: [StaticString], direction: Direction) throws(ConfigError)
  {
    for key in keys {
      guard let node = doc.member(object, key) else { continue }
      let mark = push(key)
      defer { pop(mark) }
      var message: [UInt8] = []
      message.append(direction == .input ? "applies to output lines only" : "applies to input lines only")
      message.append("; this line has \"direction\": ")
      message.append(direction == .input ? "\"input\"" : "\"output\"")
      throw error(.conflict, at: node, message)
    }
  }

  /// Fails when `line` is the same GPIO line as one already read, pointing at the spelling
  /// (name, alias or offset) that repeats it.
  private mutating func checkDistinct(
    _ line: LineConfig, object: Int, from lines: FixedList<32, LineConfig>, uses: [LineUse], known: KnownChip?
  ) throws(ConfigError) {
    for other in lines.indices {
      let earlier = lines[other]
      for spelling in line.names.indices {
        for b in earlier.names.indices where line.names[spelling] == earlier.names[b] {
          var same: [UInt8] = []
          same.appendQuoted(line.names[spelling])
          throw repeated(
            same, spelling: spelling, object: object, earlier: earlier, earlierNode: uses[other].node)
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
        same, spelling: spelling, object: object, earlier: earlier, earlierNode: uses[other].node)
    }
  }

  /// The error for a line spelled `same` that is already line `earlier`; `spelling` indexes
  /// the line's names (`-1` for its offset).
  private mutating func repeated(
    _ same: [UInt8], spelling: Int, object: Int, earlier: LineConfig, earlierNode: Int
  ) -> ConfigError {
    let node: Int
    let mark: Int
    if spelling < 0 {
      node = doc.member(object, "offset") ?? object
      mark = push("offset")
    } else if spelling == 0 {
      node = doc.member(object, "name") ?? object
      mark = push("name")
    } else {
      node = doc.elements(doc.member(object, "aliases")!)[spelling - 1]
      mark = pushAlias(spelling - 1)
    }
    defer { pop(mark) }
    let first = doc.position(of: Int(doc.nodes[earlierNode - 1].offset))
    var message: [UInt8] = []
    message.append(contentsOf: same)
    message.append(" is already line ")
    message.appendQuoted(earlier.id)
    message.append(" (at ")
    message.appendDecimal(first.line)
    message.append(":")
    message.appendDecimal(first.column)
    message.append("); a GPIO line can be listed once")
    return error(.conflict, at: node, message)
  }

  // MARK: tasks

  private mutating func readTasks(_ root: Int, lines: inout FixedList<32, LineConfig>, uses: inout [LineUse])
    throws(ConfigError) -> FixedList<32, TaskConfig>
  {
    var tasks = FixedList<32, TaskConfig>()
    guard let node = doc.member(root, "tasks") else {
      throw missing(root, "tasks", bytes("an array of tasks"))
    }
    let mark = push("tasks")
    defer { pop(mark) }
    guard kind(node) == .array else {
      throw mismatch(
        .type, at: node,
        expected: bytes("an array of tasks ([{\"name\": \"blink\", \"kind\": \"heartbeat\", ...}])"))
    }
    let count = Int(doc.nodes[node].a)
    if count == 0 {
      throw error(.range, at: node, bytes("expected at least one task, found an empty array"))
    }
    if count > ConfigLimits.maxTasks {
      throw capacityError(at: node, most: ConfigLimits.maxTasks, of: "tasks", found: count)
    }
    // First pass: the names as written, so tasks can refer to tasks after them.
    let elements = doc.elements(node)
    var names: [[UInt8]] = []
    for element in elements {
      if kind(element) == .object, let name = doc.member(element, "name"), kind(name) == .string {
        names.append(Array(doc.string(name)))
      } else {
        names.append([])
      }
    }
    // Threshold sources are checked once every task's kind is known.
    var sourceChecks: [(task: Int, node: Int)] = []
    var watchdog: Int? = nil
    for (index, element) in elements.enumerated() {
      let inner = push(index: index)
      defer { pop(inner) }
      guard kind(element) == .object else {
        throw mismatch(
          .type, at: element, expected: bytes("a task object ({\"name\": ..., \"kind\": ..., ...})"))
      }
      let kindIndex = try choice(element, "kind", Validator.taskKinds, default: nil)
      try checkObject(
        element, allowed: Validator.taskKeys(kindIndex), what: Validator.taskWhat(kindIndex),
        example: "{\"name\": ..., \"kind\": ..., ...}")
      guard let nameNode = doc.member(element, "name") else {
        throw missing(element, "name", nameExpectation())
      }
      let nameMark = push("name")
      let name = try readName(nameNode)
      for other in tasks.indices where tasks[other].name == name {
        var message: [UInt8] = []
        message.append("the task name ")
        message.appendQuoted(name)
        message.append(" is already used by tasks[")
        message.appendDecimal(other)
        message.append("]")
        throw error(.conflict, at: nameNode, message)
      }
      pop(nameMark)

      let taskKind: TaskKind
      switch kindIndex {
      case 0:
        let line = try lineRef(
          element, "line", LineNeed(direction: .output, edges: nil), task: index, names: names, lines: &lines,
          uses: &uses)
        taskKind = .heartbeat(HeartbeatConfig(line: line, pattern: try pattern(element)))
      case 1:
        let line = try lineRef(
          element, "line", LineNeed(direction: .input, edges: .both), task: index, names: names,
          lines: &lines, uses: &uses)
        let debounce = try milliseconds(element, "debounce_ms", 0...1000, default: 20)
        let longPress = try milliseconds(element, "long_press_ms", 0...600_000, default: 1000)
        if longPress != .zero && longPress <= debounce, let node = doc.member(element, "long_press_ms") {
          let mark = push("long_press_ms")
          defer { pop(mark) }
          var expected: [UInt8] = []
          expected.append("0 (no long-press events) or more than debounce_ms (")
          expected.appendDecimal(debounce.nanoseconds / 1_000_000)
          expected.append(")")
          throw mismatch(.range, at: node, expected: expected)
        }
        taskKind = .button(
          ButtonConfig(line: line, debounce: debounce, longPress: longPress == .zero ? nil : longPress))
      case 2:
        let edgeIndex = try choice(element, "edge", ["rising", "falling", "both"], default: 0)
        let edge = [Edge.rising, .falling, .both][edgeIndex]
        let line = try lineRef(
          element, "line", LineNeed(direction: .input, edges: edge), task: index, names: names, lines: &lines,
          uses: &uses)
        taskKind = .pulseCounter(
          PulseCounterConfig(
            line: line, edge: edge,
            window: try milliseconds(element, "window_ms", 10...3_600_000, default: 1000),
            scale: try decimal(
              element, "scale", from: maxNegative, to: maxPositive, default: .one, nonZero: true),
            unit: try text(element, "unit", allowEmpty: true, default: Unit("Hz"))))
      case 3:
        taskKind = .sampler(
          SamplerConfig(
            path: try path(element, "path", absolute: true),
            period: try milliseconds(element, "period_ms", 1...3_600_000, default: 1000),
            scale: try decimal(
              element, "scale", from: maxNegative, to: maxPositive, default: .one, nonZero: true),
            offset: try decimal(element, "offset", from: maxNegative, to: maxPositive, default: .zero),
            unit: try text(element, "unit", allowEmpty: true, default: Unit())))
      case 4:
        let lineA = try lineRef(
          element, "line_a", LineNeed(direction: .input, edges: .both), task: index, names: names,
          lines: &lines,
          uses: &uses)
        let lineB = try lineRef(
          element, "line_b", LineNeed(direction: .input, edges: .both), task: index, names: names,
          lines: &lines,
          uses: &uses)
        var steps = 4
        if let node = doc.member(element, "steps_per_detent") {
          let mark = push("steps_per_detent")
          steps = Int(try readInteger(node, 1...4))
          if steps == 3 { throw mismatch(.range, at: node, expected: bytes("1, 2 or 4")) }
          pop(mark)
        }
        taskKind = .encoder(EncoderConfig(lineA: lineA, lineB: lineB, stepsPerDetent: steps))
      case 5:
        let source = try taskRef(element, "source", names: names, selfIndex: index)
        sourceChecks.append((index, doc.member(element, "source")!))
        let line = try lineRef(
          element, "line", LineNeed(direction: .output, edges: nil), task: index, names: names, lines: &lines,
          uses: &uses)
        let onAbove = try decimal(element, "on_above", from: maxNegative, to: maxPositive, default: nil)
        let offBelow = try decimal(element, "off_below", from: maxNegative, to: maxPositive, default: onAbove)
        if offBelow.double > onAbove.double, let node = doc.member(element, "off_below") {
          let mark = push("off_below")
          defer { pop(mark) }
          var expected: [UInt8] = []
          expected.append("a number no higher than on_above (")
          onAbove.render(into: &expected)
          expected.append(")")
          throw mismatch(.range, at: node, expected: expected)
        }
        taskKind = .threshold(
          ThresholdConfig(source: source, line: line, onAbove: onAbove, offBelow: offBelow))
      case 6:
        if let first = watchdog {
          var message: [UInt8] = []
          message.append("a second watchdog task; tasks[")
          message.appendDecimal(first)
          message.append("] already kicks the watchdog")
          throw error(.conflict, at: element, message)
        }
        watchdog = index
        let device = doc.member(element, "device") == nil ? nil : try path(element, "device", absolute: true)
        let kick = try milliseconds(element, "kick_ms", 10...60_000, default: 1000)
        let stall = try milliseconds(element, "stall_ms", 10...3_600_000, default: 10_000)
        if stall <= kick {
          let node = doc.member(element, "stall_ms") ?? element
          let mark = push("stall_ms")
          defer { pop(mark) }
          var expected: [UInt8] = []
          expected.append("more than kick_ms (")
          expected.appendDecimal(kick.nanoseconds / 1_000_000)
          expected.append(")")
          if node == element {
            var message: [UInt8] = []
            message.append("the default stall_ms (10000) is not more than kick_ms (")
            message.appendDecimal(kick.nanoseconds / 1_000_000)
            message.append("); set stall_ms")
            throw error(.range, at: node, message)
          }
          throw mismatch(.range, at: node, expected: expected)
        }
        var watched: UInt64 = 0
        if let node = doc.member(element, "watch") {
          let mark = push("watch")
          defer { pop(mark) }
          guard kind(node) == .array, doc.nodes[node].a >= 1 else {
            throw mismatch(
              kind(node) == .array ? .range : .type, at: node,
              expected: bytes("an array of one or more task names"))
          }
          for (position, item) in doc.elements(node).enumerated() {
            let inner = push(index: position)
            let watchedIndex = try resolveTask(item, names: names, selfIndex: index)
            if watched & (1 << UInt64(watchedIndex)) != 0 {
              throw error(.conflict, at: item, bytes("the task is listed twice"))
            }
            watched |= 1 << UInt64(watchedIndex)
            pop(inner)
          }
        } else {
          for other in 0..<count where other != index { watched |= 1 << UInt64(other) }
        }
        taskKind = .watchdog(
          WatchdogConfig(
            device: device, kick: kick, stall: stall, watched: watched,
            disarmOnExit: try boolean(element, "disarm_on_exit", default: true)))
      case 7:
        taskKind = .ticker(
          TickerConfig(period: try milliseconds(element, "period_ms", 1...3_600_000, default: nil)))
      default:
        let line = try lineRef(
          element, "line", LineNeed(direction: .output, edges: nil), task: index, names: names, lines: &lines,
          uses: &uses)
        taskKind = .pwm(
          PWMConfig(
            line: line, period: try milliseconds(element, "period_ms", 2...60_000, default: 20),
            dutyPercent: Int(try integer(element, "duty_percent", 0...100, default: nil, unit: "percent"))))
      }
      tasks.append(TaskConfig(name: name, kind: taskKind))
    }
    var watchers = [Int](repeating: 0, count: tasks.count)
    for check in sourceChecks {
      guard case .threshold(let threshold) = tasks[check.task].kind else { continue }
      watchers[threshold.source] += 1
      if watchers[threshold.source] > ConfigLimits.maxWatchersPerSource {
        let inner = push(index: check.task)
        let sourceMark = push("source")
        var message: [UInt8] = []
        message.append("task ")
        message.appendQuoted(tasks[threshold.source].name)
        message.append(" already has ")
        message.appendDecimal(ConfigLimits.maxWatchersPerSource)
        message.append(" thresholds watching it, the most one source can notify")
        let failure = error(.capacity, at: check.node, message)
        pop(sourceMark)
        pop(inner)
        throw failure
      }
      switch tasks[threshold.source].kind {
      case .sampler, .pulseCounter, .encoder: continue
      default:
        let inner = push(index: check.task)
        let sourceMark = push("source")
        var message: [UInt8] = []
        message.append("task ")
        message.appendQuoted(tasks[threshold.source].name)
        message.append(" makes no readings; a threshold watches a sampler, pulse_counter or encoder task")
        let failure = error(.conflict, at: check.node, message)
        pop(sourceMark)
        pop(inner)
        throw failure
      }
    }
    // Inputs whose edges no task asked for report both, so nothing is missed.
    for index in lines.indices
    where lines[index].direction == .input && !uses[index].explicitEdge
      && uses[index].task == nil
    {
      lines[index].edge = .both
    }
    return tasks
  }

  private mutating func pattern(_ object: Int) throws(ConfigError) -> FixedList<16, Duration> {
    var result = FixedList<16, Duration>()
    var expected: [UInt8] = []
    expected.append("an array of 2 to ")
    expected.appendDecimal(ConfigLimits.maxPatternSteps)
    expected.append(" durations in milliseconds: on, off, on, off ...")
    guard let node = doc.member(object, "pattern_ms") else {
      result.append(.milliseconds(100))
      result.append(.milliseconds(900))
      return result
    }
    let mark = push("pattern_ms")
    defer { pop(mark) }
    guard kind(node) == .array else { throw mismatch(.type, at: node, expected: expected) }
    let count = Int(doc.nodes[node].a)
    guard count >= 2 && count <= ConfigLimits.maxPatternSteps && count % 2 == 0 else {
      var message: [UInt8] = []
      message.append("expected an even number (2 to ")
      message.appendDecimal(ConfigLimits.maxPatternSteps)
      message.append(") of durations: on, off, on, off ...; found ")
      message.appendDecimal(count)
      throw error(count > ConfigLimits.maxPatternSteps ? .capacity : .range, at: node, message)
    }
    for (index, element) in doc.elements(node).enumerated() {
      let inner = push(index: index)
      result.append(.milliseconds(try readInteger(element, 1...3_600_000, unit: "milliseconds")))
      pop(inner)
    }
    return result
  }

  /// Resolves `key` of `object` to a line, checking it suits the task and is not used twice.
  private mutating func lineRef(
    _ object: Int, _ key: StaticString, _ need: LineNeed, task: Int, names: [[UInt8]],
    lines: inout FixedList<32, LineConfig>, uses: inout [LineUse]
  ) throws(ConfigError) -> Int {
    guard let node = doc.member(object, key) else {
      throw missing(
        object, key,
        need.direction == .input
          ? bytes("the name of an input line in \"lines\"")
          : bytes("the name of an output line in \"lines\""))
    }
    let mark = push(key)
    defer { pop(mark) }
    let index = try resolveLine(node, lines: lines)
    let line = lines[index]
    if line.direction != need.direction {
      var message: [UInt8] = []
      message.append("line ")
      message.appendQuoted(line.id)
      message.append(line.direction == .input ? " is an input; " : " is an output; ")
      message.append("this task needs an ")
      message.append(need.direction == .input ? "input" : "output")
      message.append(" line")
      throw error(.conflict, at: node, message)
    }
    if let user = uses[index].task {
      var message: [UInt8] = []
      message.append("line ")
      message.appendQuoted(line.id)
      if user == task {
        message.append(" is already used by this task")
      } else {
        message.append(" is already used by task ")
        message.appendQuoted(names[user])
        message.append(" (tasks[")
        message.appendDecimal(user)
        message.append("]); a line can serve one task")
      }
      throw error(.conflict, at: node, message)
    }
    if let edges = need.edges {
      if uses[index].explicitEdge {
        let has = line.edge
        let covers = has == .both || has == edges
        if !covers {
          var message: [UInt8] = []
          message.append("line ")
          message.appendQuoted(line.id)
          message.append(" has \"edge\": ")
          appendEdge(has, into: &message)
          message.append("; this task needs ")
          appendEdge(edges, into: &message)
          message.append(" edges")
          throw error(.conflict, at: node, message)
        }
      } else {
        lines[index].edge = edges
      }
    }
    uses[index].task = task
    return index
  }

  private func appendEdge(_ edge: Edge, into out: inout [UInt8]) {
    switch edge {
    case .none: out.append("\"none\"")
    case .rising: out.append("\"rising\"")
    case .falling: out.append("\"falling\"")
    case .both: out.append("\"both\"")
    }
  }

  /// The index of the line string `node` names.
  private func resolveLine(_ node: Int, lines: FixedList<32, LineConfig>) throws(ConfigError) -> Int {
    guard kind(node) == .string else {
      throw mismatch(.type, at: node, expected: bytes("the name of a line in \"lines\""))
    }
    let wanted = doc.string(node)
    for index in lines.indices where lines[index].id.equals(wanted) { return index }
    var ids: [[UInt8]] = []
    for index in lines.indices { ids.append(lines[index].id.bytes) }
    throw unknownReference(node, what: "line", list: "\"lines\"", names: ids)
  }

  /// The index of the task named at `key` of `object`.
  private mutating func taskRef(_ object: Int, _ key: StaticString, names: [[UInt8]], selfIndex: Int)
    throws(ConfigError) -> Int
  {
    guard let node = doc.member(object, key) else {
      throw missing(object, key, bytes("the name of a task"))
    }
    let mark = push(key)
    defer { pop(mark) }
    return try resolveTask(node, names: names, selfIndex: selfIndex)
  }

  private func resolveTask(_ node: Int, names: [[UInt8]], selfIndex: Int) throws(ConfigError) -> Int {
    guard kind(node) == .string else {
      throw mismatch(.type, at: node, expected: bytes("the name of a task"))
    }
    let wanted = doc.string(node)
    for (index, name) in names.enumerated() where !name.isEmpty && name.elementsEqual(wanted) {
      if index == selfIndex {
        throw error(.conflict, at: node, bytes("a task cannot refer to itself"))
      }
      return index
    }
    throw unknownReference(node, what: "task", list: "\"tasks\"", names: names)
  }

  private func unknownReference(_ node: Int, what: StaticString, list: StaticString, names: [[UInt8]])
    -> ConfigError
  {
    var message: [UInt8] = []
    message.append("no ")
    message.append(what)
    message.append(" named ")
    message.appendQuoted(doc.string(node))
    if let close = suggestionIndex(for: doc.string(node), among: names) {
      message.append("; did you mean ")
      message.appendQuoted(names[close])
      message.append("?")
    } else if names.allSatisfy({ $0.isEmpty }) {
      message.append("; ")
      message.append(list)
      message.append(" names none")
    } else {
      message.append("; ")
      message.append(list)
      message.append(" has ")
      var listed = 0
      for name in names where !name.isEmpty {
        if listed == 8 {
          message.append(", ...")
          break
        }
        if listed > 0 { message.append(", ") }
        message.appendQuoted(name)
        listed += 1
      }
    }
    return error(.reference, at: node, message)
  }

  // MARK: output

  private mutating func readOutput(_ root: Int) throws(ConfigError) -> OutputConfig {
    var output = OutputConfig(target: .stdout, ringBytes: ConfigLimits.defaultRingBytes)
    guard let node = doc.member(root, "output") else { return output }
    let mark = push("output")
    defer { pop(mark) }
    try checkObject(node, allowed: ["to", "ring_bytes"], what: "output", example: "{\"to\": \"stdout\"}")
    if let to = doc.member(node, "to") {
      let inner = push("to")
      defer { pop(inner) }
      if kind(to) == .string && bytesEqual(doc.string(to), "stdout") {
        output.target = .stdout
      } else if kind(to) == .string && bytesEqual(doc.string(to), "stderr") {
        output.target = .stderr
      } else if kind(to) == .string {
        output.target = .file(try readPath(to, absolute: false))
      } else {
        throw mismatch(.type, at: to, expected: bytes("\"stdout\", \"stderr\" or a file path"))
      }
    }
    let range = ConfigLimits.ringBytes
    output.ringBytes = Int(
      try integer(
        node, "ring_bytes", Int64(range.lowerBound)...Int64(range.upperBound),
        default: Int64(ConfigLimits.defaultRingBytes), unit: "bytes"))
    return output
  }

  // MARK: sim

  private mutating func readSim(
    _ root: Int, chip: ChipSelector, lines: FixedList<32, LineConfig>, stimuli: inout FixedList<64, Stimulus>,
    files: inout FixedList<8, SimFile>
  ) throws(ConfigError) {
    guard let node = doc.member(root, "sim") else { return }
    let mark = push("sim")
    defer { pop(mark) }
    guard chip == .mock else {
      throw error(
        .conflict, at: node,
        bytes("scripted stimuli drive the simulated board only; set \"gpio\": \"mock\" or remove \"sim\""))
    }
    try checkObject(node, allowed: ["stimuli", "files"], what: "sim", example: "{\"stimuli\": [...]}")
    if let list = doc.member(node, "stimuli") {
      let inner = push("stimuli")
      defer { pop(inner) }
      guard kind(list) == .array else {
        throw mismatch(.type, at: list, expected: bytes("an array of stimuli"))
      }
      let count = Int(doc.nodes[list].a)
      if count > ConfigLimits.maxStimuli {
        throw capacityError(at: list, most: ConfigLimits.maxStimuli, of: "stimuli", found: count)
      }
      for (index, element) in doc.elements(list).enumerated() {
        let item = push(index: index)
        stimuli.append(try stimulus(element, lines: lines))
        pop(item)
      }
    }
    if let list = doc.member(node, "files") {
      let inner = push("files")
      defer { pop(inner) }
      guard kind(list) == .array else {
        throw mismatch(.type, at: list, expected: bytes("an array of scripted files"))
      }
      let count = Int(doc.nodes[list].a)
      if count > ConfigLimits.maxSimFiles {
        throw capacityError(at: list, most: ConfigLimits.maxSimFiles, of: "files", found: count)
      }
      for (index, element) in doc.elements(list).enumerated() {
        let item = push(index: index)
        files.append(try simFile(element))
        pop(item)
      }
    }
  }

  private mutating func stimulus(_ object: Int, lines: FixedList<32, LineConfig>) throws(ConfigError)
    -> Stimulus
  {
    guard kind(object) == .object else {
      throw mismatch(
        .type, at: object, expected: bytes("a stimulus object ({\"kind\": \"press\", ...})"))
    }
    let kindIndex = try choice(object, "kind", Validator.stimulusKinds, default: nil)
    let keys: [StaticString]
    let what: StaticString
    switch kindIndex {
    case 0:
      keys = ["kind", "line", "at_ms", "value"]
      what = "an edge stimulus"
    case 1:
      keys = ["kind", "line", "at_ms", "frequency_hz", "duty_percent", "count", "duration_ms"]
      what = "a pulses stimulus"
    case 2:
      keys = ["kind", "line", "at_ms", "transitions", "within_us", "value"]
      what = "a bounce stimulus"
    case 3:
      keys = ["kind", "line", "at_ms", "hold_ms", "count", "every_ms", "bounce", "bounce_us"]
      what = "a press stimulus"
    default:
      keys = ["kind", "line_a", "line_b", "at_ms", "steps", "direction", "rate_hz"]
      what = "a quadrature stimulus"
    }
    try checkObject(object, allowed: keys, what: what, example: "{\"kind\": \"press\", ...}")
    let at = try milliseconds(object, "at_ms", 0...86_400_000, default: 0)
    switch kindIndex {
    case 0:
      let line = try simLine(object, "line", lines: lines)
      guard let node = doc.member(object, "value") else {
        throw missing(object, "value", bytes("0 or 1"))
      }
      let mark = push("value")
      defer { pop(mark) }
      return .edge(line: line, at: at, value: try readLevel(node))
    case 1:
      let line = try simLine(object, "line", lines: lines)
      let frequency = try decimal(
        object, "frequency_hz", from: DecimalNumber(significand: 1, exponent: -3),
        to: DecimalNumber(significand: 50_000), default: nil)
      let duty = try integer(object, "duty_percent", 1...99, default: 50, unit: "percent")
      let period = Duration(nanoseconds: Int64((1e9 / frequency.double).rounded()))
      var count: Int64? = nil
      if doc.member(object, "count") != nil && doc.member(object, "duration_ms") != nil {
        let mark = push("duration_ms")
        defer { pop(mark) }
        throw error(
          .conflict, at: doc.member(object, "duration_ms")!,
          bytes("give \"count\" or \"duration_ms\", not both"))
      }
      if doc.member(object, "count") != nil {
        count = try integer(object, "count", 1...1_000_000_000, default: nil)
      } else if doc.member(object, "duration_ms") != nil {
        let duration = try milliseconds(object, "duration_ms", 1...86_400_000, default: nil)
        count = max(1, duration.nanoseconds / period.nanoseconds)
      }
      return .pulses(
        PulseTrain(
          line: line, at: at, frequencyHz: frequency, period: period,
          high: Duration(nanoseconds: period.nanoseconds * duty / 100), count: count))
    case 2:
      let line = try simLine(object, "line", lines: lines)
      let transitions = Int(try integer(object, "transitions", 1...1000, default: nil))
      let within = Duration.microseconds(
        try integer(object, "within_us", 1...1_000_000, default: nil, unit: "microseconds"))
      guard let node = doc.member(object, "value") else {
        throw missing(object, "value", bytes("0 or 1, the level after the bounce"))
      }
      let mark = push("value")
      defer { pop(mark) }
      return .bounce(line: line, at: at, transitions: transitions, within: within, value: try readLevel(node))
    case 3:
      let line = try simLine(object, "line", lines: lines)
      let hold = try milliseconds(object, "hold_ms", 1...600_000, default: 100)
      let count = Int(try integer(object, "count", 1...100_000, default: 1))
      var every = hold * 2
      if count > 1 {
        every = try milliseconds(object, "every_ms", 2...3_600_000, default: nil)
        if every <= hold {
          let mark = push("every_ms")
          defer { pop(mark) }
          throw error(
            .range, at: doc.member(object, "every_ms")!,
            bytes("must be longer than hold_ms (a press must end before the next starts)"))
        }
      } else if doc.member(object, "every_ms") != nil {
        every = try milliseconds(object, "every_ms", 2...3_600_000, default: nil)
      }
      return .press(
        Press(
          line: line, at: at, hold: hold, count: count, every: every,
          bounceTransitions: Int(try integer(object, "bounce", 0...100, default: 0)),
          bounceWithin: .microseconds(
            try integer(object, "bounce_us", 1...100_000, default: 1000, unit: "microseconds"))))
    default:
      let lineA = try simLine(object, "line_a", lines: lines)
      let lineB = try simLine(object, "line_b", lines: lines)
      if lineA == lineB {
        let mark = push("line_b")
        defer { pop(mark) }
        throw error(
          .conflict, at: doc.member(object, "line_b")!, bytes("line_b must differ from line_a"))
      }
      let steps = Int(try integer(object, "steps", 1...1_000_000, default: nil))
      let clockwise = try choice(object, "direction", ["cw", "ccw"], default: 0) == 0
      let rate = try decimal(
        object, "rate_hz", from: DecimalNumber(significand: 1, exponent: -1),
        to: DecimalNumber(significand: 10_000),
        default: DecimalNumber(significand: 100))
      return .quadrature(
        Quadrature(
          lineA: lineA, lineB: lineB, at: at, steps: steps, clockwise: clockwise,
          interval: Duration(nanoseconds: Int64((1e9 / rate.double).rounded()))))
    }
  }

  /// A stimulus's line: it must exist and be an input.
  private mutating func simLine(_ object: Int, _ key: StaticString, lines: FixedList<32, LineConfig>)
    throws(ConfigError) -> Int
  {
    guard let node = doc.member(object, key) else {
      throw missing(object, key, bytes("the name of an input line in \"lines\""))
    }
    let mark = push(key)
    defer { pop(mark) }
    let index = try resolveLine(node, lines: lines)
    if lines[index].direction != .input {
      var message: [UInt8] = []
      message.append("line ")
      message.appendQuoted(lines[index].id)
      message.append(" is an output; stimuli drive input lines")
      throw error(.conflict, at: node, message)
    }
    return index
  }

  private mutating func simFile(_ object: Int) throws(ConfigError) -> SimFile {
    try checkObject(
      object, allowed: ["path", "values", "at_ms", "every_ms", "repeat"], what: "a scripted file",
      example: "{\"path\": \"/tmp/temp\", \"values\": [41000, 42000]}")
    let path = try path(object, "path", absolute: true)
    var values = FixedList<16, Int64>()
    guard let list = doc.member(object, "values") else {
      throw missing(object, "values", bytes("an array of 1 to 16 integers"))
    }
    let mark = push("values")
    guard kind(list) == .array, doc.nodes[list].a >= 1,
      Int(doc.nodes[list].a) <= ConfigLimits.maxSimFileValues
    else {
      throw mismatch(
        kind(list) != .array ? .type : (doc.nodes[list].a == 0 ? .range : .capacity), at: list,
        expected: bytes("an array of 1 to 16 integers"))
    }
    for (index, element) in doc.elements(list).enumerated() {
      let inner = push(index: index)
      values.append(try readInteger(element, -1_000_000_000_000...1_000_000_000_000))
      pop(inner)
    }
    pop(mark)
    return SimFile(
      path: path, at: try milliseconds(object, "at_ms", 0...86_400_000, default: 0),
      every: try milliseconds(object, "every_ms", 1...3_600_000, default: 1000), values: values,
      repeats: try boolean(object, "repeat", default: true))
  }

  // MARK: totals

  private mutating func checkTotals(_ config: BoardConfig, root: Int) throws(ConfigError) {
    let plan = CapacityPlan(config)
    for row in plan.rows where row.used > row.limit {
      let mark = push("tasks")
      defer { pop(mark) }
      var message: [UInt8] = []
      message.append("the config needs ")
      message.appendDecimal(row.used)
      message.append(" ")
      message.append(row.name)
      message.append(", more than the ")
      message.appendDecimal(row.limit)
      message.append(" sensorloop is built for (")
      message.append(row.rule)
      message.append(")")
      throw error(.capacity, at: doc.member(root, "tasks") ?? root, message)
    }
  }

  private func capacityError(at node: Int, most: Int, of what: StaticString, found: Int) -> ConfigError {
    var message: [UInt8] = []
    message.append("expected at most ")
    message.appendDecimal(most)
    message.append(" ")
    message.append(what)
    message.append(" (the fixed capacity), found ")
    message.appendDecimal(found)
    return error(.capacity, at: node, message)
  }
}

/// The widest range scale and offset accept.
private let maxPositive = DecimalNumber(significand: 1, exponent: 9)
private let maxNegative = DecimalNumber(significand: -1, exponent: 9)
